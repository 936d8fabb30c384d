"""Feedback on answers: 👍/👎 buttons or reactions are recorded in the store of the server the
answer was given in (a DM's in the global library's); /feedback sums up that server's only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.feedback_store import FeedbackSummary
from bot.permissions import admin_only
from bot.voting import VOTE_EMOJI, VoteButton

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)


def summary_embed(summary: FeedbackSummary) -> discord.Embed:
    embed = discord.Embed(title="Feedback on answers", colour=formatting.ANSWER_COLOUR)
    answers = f"{summary.answers:,} answer{'s' if summary.answers != 1 else ''}"
    embed.description = (
        f"{answers} recorded, {summary.voted:,} of them rated: "
        f"👍 {summary.up:,} · 👎 {summary.down:,}"
    )
    for item in summary.worst:
        name = formatting.fit(
            f"👎 {item.down} · 👍 {item.up} — {item.question}", formatting.FIELD_NAME_MAX
        )
        embed.add_field(name=name, value=formatting.fit(item.answer, 300), inline=False)
    if not summary.worst and summary.voted:
        embed.set_footer(text="No answer has a 👎 yet.")
    return embed


class Feedback(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(VoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VoteButton)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        vote = VOTE_EMOJI.get(str(event.emoji))
        me = self.bot.user
        if vote is None or me is None or event.user_id == me.id:
            return
        # Reactions on anything but a recorded answer are simply not ours to count.
        async with self.bot.feedback.using(event.guild_id) as store:
            recorded = await store.vote(event.message_id, event.user_id, vote)
        if recorded:
            log.info("user %s voted %+d on answer %s", event.user_id, vote, event.message_id)

    @app_commands.command(name="feedback", description="Summarise the 👍/👎 votes on answers")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def feedback(self, interaction: discord.Interaction) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        async with self.bot.feedback.using(interaction.guild_id) as store:
            summary = await store.summary()
        await replies.send(interaction, embed=summary_embed(summary), ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Feedback(bot))
