"""What the bot knows: /sources lists the articles, /about says what it covers and how to ask."""

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
        articles = await asyncio.to_thread(self.bot.engine.articles)
        await replies.send(interaction, embed=formatting.sources_embed(articles))

    @app_commands.command(name="about", description="What TradeTalk covers and how to ask it")
    async def about(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)  # if too late, the reply goes to the channel
        articles = await asyncio.to_thread(self.bot.engine.articles)
        issues = await asyncio.to_thread(covered_issues, self.bot.engine)
        await replies.send(interaction, embed=formatting.about_embed(articles, issues))


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Library(bot))
