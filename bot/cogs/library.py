"""What the bot knows: /sources lists the articles, /about says what it covers and how to ask.

In a server both show what questions there read: the server's own articles and the global
library's. In a direct message, the global library's only, and /about says so."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.issues import covered_issues

if TYPE_CHECKING:
    from bot.client import TradeTalkBot


def sources_view(page: int, pages: int) -> discord.ui.View | None:
    """◀ / ▶ under a /sources page; none for a single page."""
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesPage(page - 1, "prev", disabled=page <= 0))
    view.add_item(SourcesPage(page + 1, "next", disabled=page >= pages - 1))
    return view


class SourcesPage(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"tradetalk:sources:(?P<page>\d{1,6}):(?P<way>prev|next)",
):
    """Turns the /sources message to another page (the article list read again, so a page
    added meanwhile shows). Stateless: the page is in the button's id."""

    def __init__(self, page: int, way: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label="◀ Previous" if way == "prev" else "Next ▶",
                custom_id=f"tradetalk:sources:{max(page, 0)}:{way}",
                disabled=disabled,
            )
        )
        self.page = max(page, 0)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> SourcesPage:
        return cls(int(match["page"]), match["way"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            bot: TradeTalkBot = interaction.client  # type: ignore[assignment]
            articles = await asyncio.to_thread(bot.libraries.articles, interaction.guild_id)
            pages = len(formatting.source_pages(articles))
            page = min(self.page, pages - 1)
            await interaction.response.edit_message(
                embed=formatting.sources_embed(articles, page),
                view=sources_view(page, pages),
                allowed_mentions=replies.NO_PINGS,
            )
        except Exception as exc:  # a component has no command tree error handler
            await replies.report_failure(interaction, exc)


class Library(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SourcesPage)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SourcesPage)

    @app_commands.command(name="sources", description="List the articles answers come from")
    async def sources(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)  # if too late, the reply goes to the channel
        articles = await asyncio.to_thread(self.bot.libraries.articles, interaction.guild_id)
        pages = len(formatting.source_pages(articles))
        await replies.send(
            interaction, embed=formatting.sources_embed(articles), view=sources_view(0, pages)
        )

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
