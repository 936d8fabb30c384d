"""/settings: a server's admins choose where the bot answers (mentions and /ask alike), which
roles count as admins, and the question cooldown. Stored with the server (tenancy), shown back
after every change; anything not set follows the environment's settings."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.permissions import actor_of, admin_only
from tenancy.server_settings import validated
from tradetalk.errors import SettingError

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)

_CHANNEL = re.compile(r"^<#(\d+)>$|^(\d+)$")
_ROLE = re.compile(r"^<@&(\d+)>$|^(\d+)$")


def parse_ids(text: str, pattern: re.Pattern[str], what: str) -> tuple[int, ...]:
    """The ids in "<#1> <#2>" or "1, 2"; `SettingError` naming the first thing that isn't one."""
    ids = []
    for part in text.replace(",", " ").split():
        match = pattern.match(part)
        if match is None:
            raise SettingError(f"{part[:50]!r} is not a {what} (pick one from the list)")
        ids.append(int(match.group(1) or match.group(2)))
    return tuple(ids)


def channels_of(guild: discord.Guild, text: str) -> tuple[int, ...] | None:
    """ "all" (every channel: an empty tuple), "default" (None), or channels of this server."""
    word = text.strip().lower()
    if word in ("all", "any", "every"):
        return ()
    if word == "default":
        return None
    ids = parse_ids(text, _CHANNEL, "channel")
    for channel_id in ids:
        channel = guild.get_channel_or_thread(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.ForumChannel):
            raise SettingError(f"<#{channel_id}> is not a text channel of this server")
    return ids


def roles_of(guild: discord.Guild, text: str) -> tuple[int, ...] | None:
    """ "none" (Manage Server alone: an empty tuple), "default" (None), or roles of this server."""
    word = text.strip().lower()
    if word == "none":
        return ()
    if word == "default":
        return None
    ids = parse_ids(text, _ROLE, "role")
    for role_id in ids:
        if guild.get_role(role_id) is None or role_id == guild.id:  # not @everyone
            raise SettingError(f"{role_id} is not a role of this server")
    return ids


RESET_FIELDS = {
    "channels": ("channel_ids",),
    "admin roles": ("admin_role_ids",),
    "cooldown": ("cooldown_rate", "cooldown_seconds"),
    "everything": ("channel_ids", "admin_role_ids", "cooldown_rate", "cooldown_seconds"),
}


def changes_of(
    guild: discord.Guild,
    *,
    channels: str | None,
    admin_roles: str | None,
    cooldown_questions: int | None,
    cooldown_seconds: int | None,
    reset: str | None,
) -> dict[str, object]:
    """The settings the options change (field -> value, None: the default), checked against
    this server's channels and roles; `SettingError` for one that isn't."""
    changes: dict[str, object] = {}
    if reset is not None:
        if reset not in RESET_FIELDS:
            raise SettingError(f"reset one of: {', '.join(RESET_FIELDS)}")
        changes.update(dict.fromkeys(RESET_FIELDS[reset]))
    if channels is not None:
        changes["channel_ids"] = channels_of(guild, channels)
    if admin_roles is not None:
        changes["admin_role_ids"] = roles_of(guild, admin_roles)
    if cooldown_questions is not None:
        changes["cooldown_rate"] = cooldown_questions
    if cooldown_seconds is not None:
        changes["cooldown_seconds"] = float(cooldown_seconds)
    return changes


class ServerSettingsCog(commands.Cog, name="Settings"):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="settings", description="Where I answer, who counts as an admin, the cooldown"
    )
    @app_commands.describe(
        channels="Channels where I answer, e.g. #trade-news #desk, or all / default",
        admin_roles="Roles that may use admin commands, e.g. @Editors, or none / default",
        cooldown_questions="Questions each member may ask per cooldown window",
        cooldown_seconds="Length of the cooldown window, in seconds",
        reset="Go back to the defaults for this",
    )
    @app_commands.choices(reset=[app_commands.Choice(name=r, value=r) for r in RESET_FIELDS])
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def settings(
        self,
        interaction: discord.Interaction,
        channels: str | None = None,
        admin_roles: str | None = None,
        cooldown_questions: app_commands.Range[int, 1, 100] | None = None,
        cooldown_seconds: app_commands.Range[int, 1, 3600] | None = None,
        reset: str | None = None,
    ) -> None:
        guild = interaction.guild
        if guild is None:  # guild_only, but the id may name a server not in the cache
            raise SettingError("/settings works in a server")
        if not await replies.defer(interaction, ephemeral=True):
            return
        libraries = self.bot.libraries
        current = await asyncio.to_thread(libraries.stored_settings, guild.id)
        changes = changes_of(
            guild,
            channels=channels,
            admin_roles=admin_roles,
            cooldown_questions=cooldown_questions,
            cooldown_seconds=cooldown_seconds,
            reset=reset,
        )
        if changes:
            updated = validated(current, **changes)
            current = await asyncio.to_thread(libraries.save_settings, guild.id, updated)
            detail = formatting.settings_summary(current)
            await asyncio.to_thread(
                libraries.audit(guild.id).record,
                actor_of(interaction.user),
                "settings",
                "server",
                "ok",
                detail,
            )
            log.info(
                "user %s changed the settings of server %s: %s",
                interaction.user.id,
                guild.id,
                detail,
            )
        effective = current.effective(self.bot.settings)
        embed = formatting.settings_embed(current, effective)
        await replies.send(interaction, embed=embed, ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(ServerSettingsCog(bot))
