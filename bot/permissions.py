"""Who counts as an admin: Manage Server, or one of the admin roles from the settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TypeVar

import discord
from discord import app_commands

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotAdmin(app_commands.CheckFailure):
    """A non-admin ran an admin command (Discord hides them, but clients can be bypassed)."""


def is_admin(user: discord.abc.User, admin_role_ids: Collection[int]) -> bool:
    """True for members with Manage Server (or Administrator) or any of ``admin_role_ids``."""
    if not isinstance(user, discord.Member):
        return False  # direct messages: no server, no admins
    if user.guild_permissions.manage_guild:  # Administrator implies every permission here
        return True
    return any(role.id in admin_role_ids for role in user.roles)


def actor_of(user: discord.abc.User) -> str:
    """How a Discord user appears in the audit log: stable id first, name for reading."""
    return f"discord:{user.id} ({user.name})"


def admin_only() -> Callable[[T], T]:
    """App-command check run on our side too: ``default_permissions`` only hides the command in
    Discord's client, and server owners can change who sees it."""

    async def predicate(interaction: discord.Interaction) -> bool:
        settings = interaction.client.settings  # type: ignore[attr-defined]
        if is_admin(interaction.user, settings.admin_role_ids):
            return True
        command = interaction.command.qualified_name if interaction.command else "?"
        log.warning("refused /%s for user %s: not an admin", command, interaction.user.id)
        audit = getattr(interaction.client, "audit", None)
        if audit is not None:
            await asyncio.to_thread(
                audit.record, actor_of(interaction.user), command, "-", "refused", "not an admin"
            )
        raise NotAdmin("Only server admins (Manage Server) can use this command.")

    return app_commands.check(predicate)
