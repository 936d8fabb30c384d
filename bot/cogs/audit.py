"""/audit: who added, removed or reindexed what, and when, in this server's library (its
admins only; the global library's log is the owner's, `tradetalk audit`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.permissions import admin_only
from tradetalk.audit import AuditEntry

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

ENTRIES_SHOWN = 15
# Per-part caps, so fifteen hostile entries still fit in one description (4,096 characters).
TARGET_MAX = 70
ACTOR_MAX = 60
DETAIL_MAX = 90


def _when(at: str) -> str:
    """Discord's timestamp markup (``<t:…:R>``): "3 minutes ago" in each reader's own time
    zone, the full date and time on hover; as stored if unreadable."""
    try:
        stamp = dt.datetime.fromisoformat(at)
    except ValueError:
        return formatting.fit(at, 25)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return f"<t:{int(stamp.timestamp())}:R>"


_DISCORD_ACTOR = re.compile(r"^discord:(\d{15,21})\b")


def _who(actor: str) -> str:
    """A Discord user as a mention (shown as their name, pinging nobody: every message goes
    out with ``AllowedMentions.none()``); the feeds and the CLI as words."""
    found = _DISCORD_ACTOR.match(actor)
    if found:
        return f"<@{found[1]}>"
    if actor == "feed":
        return "a feed"
    return formatting.fit(actor, ACTOR_MAX)


def audit_line(entry: AuditEntry) -> str:
    """One entry: when, action, target, outcome, who, and why when there is a reason."""
    parts = [
        formatting.fit(entry.action, 20),
        formatting.fit(entry.target, TARGET_MAX),
        formatting.fit(entry.outcome, 20),
        "by " + _who(entry.actor),
    ]
    if entry.detail:
        parts.append(formatting.fit(" ".join(entry.detail.split()), DETAIL_MAX))
    return f"{_when(entry.at)} " + " · ".join(parts)


def audit_embed(entries: Sequence[AuditEntry]) -> discord.Embed:
    """The entries, newest first, as many as fit in one embed."""
    embed = discord.Embed(title="Audit log", colour=formatting.ANSWER_COLOUR)
    if not entries:
        embed.description = "No admin actions recorded yet."
        return embed
    embed.description = formatting.lines_that_fit(audit_line(entry) for entry in entries)
    embed.set_footer(
        text="Newest first · times in your time zone · the CLI shows more: tradetalk audit"
    )
    return embed


class Audit(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="audit", description="Who added, removed or reindexed what, and when"
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def audit(self, interaction: discord.Interaction) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        log_ = self.bot.libraries.audit(interaction.guild_id)
        entries = await asyncio.to_thread(log_.recent, ENTRIES_SHOWN)
        await replies.send(interaction, embed=audit_embed(entries), ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Audit(bot))
