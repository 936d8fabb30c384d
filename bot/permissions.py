"""Who may do what: a server's admins (Manage Server, or one of that server's admin roles) act on
that server's library only; the bot's owner (the application's owner, or one of
``TRADETALK_OWNER_IDS``) manages the global library every server reads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol, TypeVar

import discord
from discord import app_commands

if TYPE_CHECKING:
    from tenancy import Libraries

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_ADMIN = "Only server admins (Manage Server) can use this command."
NOT_OWNER = "Only the bot's owner can change the global library every server reads."


class LibraryBot(Protocol):
    """What these checks need of the bot (`bot.client.TradeTalkBot`): its libraries, and who
    owns it. A protocol, so this module needs nothing of the client's."""

    libraries: Libraries

    async def is_library_owner(self, user: discord.abc.User) -> bool: ...


class NotAdmin(app_commands.CheckFailure):
    """A non-admin ran an admin command (Discord hides them, but clients can be bypassed)."""


class NotOwner(app_commands.CheckFailure):
    """Someone other than the bot's owner ran a global-library command."""


def is_admin(user: discord.abc.User, admin_role_ids: Collection[int]) -> bool:
    """True for members with Manage Server (or Administrator) or any of ``admin_role_ids``, in
    the server the member object belongs to (a command acts on that server only)."""
    if not isinstance(user, discord.Member):
        return False  # direct messages: no server, no admins
    if user.guild_permissions.manage_guild:  # Administrator implies every permission here
        return True
    return any(role.id in admin_role_ids for role in user.roles)


async def is_server_admin(bot: LibraryBot, user: discord.abc.User) -> bool:
    """`is_admin` with the admin roles the member's server set (``/settings``), else the
    environment's."""
    if not isinstance(user, discord.Member):
        return False
    settings = await asyncio.to_thread(bot.libraries.settings_for, user.guild.id)
    return is_admin(user, settings.admin_role_ids)


def actor_of(user: discord.abc.User) -> str:
    """How a Discord user appears in the audit log: stable id first, name for reading."""
    return f"discord:{user.id} ({user.name})"


async def record_refusal(
    interaction: discord.Interaction, command: str, reason: str, *, server_id: int | None
) -> None:
    """A refusal in the log (with the server and user ids) and in the audit log of the
    library that was asked for (`server_id`; None: the global library)."""
    where = interaction.guild_id
    log.warning(
        "refused /%s for user %s in server %s: %s", command, interaction.user.id, where, reason
    )
    bot: LibraryBot = interaction.client  # type: ignore[assignment]
    detail = reason if server_id is not None else f"{reason} (in server {where})"
    try:
        await asyncio.to_thread(
            bot.libraries.audit(server_id).record,
            actor_of(interaction.user),
            command,
            "-",
            "refused",
            detail,
        )
    except OSError:
        log.warning("could not write the audit log", exc_info=True)


def _command_name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


def admin_only() -> Callable[[T], T]:
    """App-command check run on our side too: ``default_permissions`` only hides the command in
    Discord's client, and server owners can change who sees it."""

    async def predicate(interaction: discord.Interaction) -> bool:
        bot: LibraryBot = interaction.client  # type: ignore[assignment]
        if await is_server_admin(bot, interaction.user):
            return True
        await record_refusal(
            interaction, _command_name(interaction), "not an admin", server_id=interaction.guild_id
        )
        raise NotAdmin(NOT_ADMIN)

    return app_commands.check(predicate)


def owner_only() -> Callable[[T], T]:
    """Only the bot's owner changes the global library: the admin of any server that invites
    the bot is not trusted with what every other server reads."""

    async def predicate(interaction: discord.Interaction) -> bool:
        bot: LibraryBot = interaction.client  # type: ignore[assignment]
        if await bot.is_library_owner(interaction.user):
            return True
        await record_refusal(
            interaction, _command_name(interaction), "not the owner", server_id=None
        )
        raise NotOwner(NOT_OWNER)

    return app_commands.check(predicate)
