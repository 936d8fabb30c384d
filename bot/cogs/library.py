"""What the bot knows: /sources lists the articles, /about says what it covers and how to ask.

In a server both show what questions there read: the server's own articles and the global
library's. In a direct message, the global library's only, and /about says so."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.issues import covered_issues

if TYPE_CHECKING:
    from bot.client import TradeTalkBot


class Library(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    @app_commands.command(name="sources", description="List the articles answers come from")
    async def sources(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)  # if too late, the reply goes to the channel
        articles = await asyncio.to_thread(self.bot.libraries.articles, interaction.guild_id)
        await replies.send(interaction, embed=formatting.sources_embed(articles))

    @app_commands.command(name="about", description="What TradeTalk covers and how to ask it")
    async def about(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)  # if too late, the reply goes to the channel
        server_id = interaction.guild_id
        articles = await asyncio.to_thread(self.bot.libraries.articles, server_id)
        briefings = await asyncio.to_thread(self.bot.libraries.briefings, server_id)
        issues = await asyncio.to_thread(covered_issues, briefings)
        embed = formatting.about_embed(articles, issues, direct=server_id is None)
        await replies.send(interaction, embed=embed)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Library(bot))
