"""The one way the bot answers an interaction, and how failures reach users.

An interaction is answered by its first response, then by followups; once its token has expired
(15 minutes) or Discord no longer knows it, a public reply goes to the channel instead and a
private one is dropped (and logged). Users see a one-line message for errors; the log gets the
traceback under a short error id they can quote.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.permissions import NotAdmin, NotOwner
from tradetalk.errors import TradeTalkError

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
# Keys in ``interaction.extras`` (discord.py's per-interaction scratch space).
_DEFERRED_EPHEMERAL = "tradetalk.deferred_ephemeral"
_PLACEHOLDER_REPLACED = "tradetalk.placeholder_replaced"
_GONE = "tradetalk.gone"


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> bool:
    """Acknowledge at once (Discord allows 3 seconds); False if it was already too late."""
    if interaction.response.is_done():
        return True
    try:
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    except discord.NotFound:
        log.warning("interaction %s expired before it could be acknowledged", interaction.id)
        interaction.extras[_GONE] = True
        return False
    interaction.extras[_DEFERRED_EPHEMERAL] = ephemeral
    return True


async def send(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    embeds: Sequence[discord.Embed] = (),
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
    ephemeral: bool = False,
) -> discord.Message | None:
    """Answer ``interaction`` (response, followup, or channel message when it has expired) and
    return the message shown, if there is one to return. Give ``embed`` or ``embeds``, and a
    ``file`` to attach (a picture an embed shows as ``attachment://<name>``)."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
    if file is not None:
        kwargs["file"] = file
    if embed is not None:
        kwargs["embed"] = embed
    elif embeds:
        kwargs["embeds"] = list(embeds)
    if view is not None:
        kwargs["view"] = view
    try:
        if not interaction.is_expired() and not interaction.extras.get(_GONE):
            if interaction.response.is_done():
                return await _followup(interaction, content, ephemeral=ephemeral, **kwargs)
            callback = await interaction.response.send_message(
                content, ephemeral=ephemeral, **kwargs
            )
            resource = callback.resource
            return resource if isinstance(resource, discord.Message) else None
    except discord.NotFound as exc:
        # 10062 Unknown interaction / 10015 Unknown webhook: Discord has forgotten it.
        log.warning("interaction %s is gone (%s); replying in the channel", interaction.id, exc)
    return await _to_channel(interaction, content, ephemeral=ephemeral, **kwargs)


async def _followup(
    interaction: discord.Interaction, content: str | None, *, ephemeral: bool, **kwargs: Any
) -> discord.Message:
    deferred_publicly = interaction.extras.get(_DEFERRED_EPHEMERAL) is False
    if ephemeral and deferred_publicly and not interaction.extras.get(_PLACEHOLDER_REPLACED):
        # The first followup after a defer replaces the "thinking…" message and keeps its
        # visibility, so a private message would come out public: remove the placeholder first.
        await interaction.delete_original_response()
    interaction.extras[_PLACEHOLDER_REPLACED] = True
    return await interaction.followup.send(content or "", ephemeral=ephemeral, wait=True, **kwargs)


async def _to_channel(
    interaction: discord.Interaction, content: str | None, *, ephemeral: bool, **kwargs: Any
) -> discord.Message | None:
    channel = interaction.channel
    if ephemeral or not isinstance(channel, discord.abc.Messageable):
        log.warning("dropped a private reply to expired interaction %s", interaction.id)
        return None
    kwargs.pop("ephemeral", None)
    return await channel.send(content, **kwargs)


async def edit(
    interaction: discord.Interaction, content: str, *, embed: discord.Embed | None = None
) -> None:
    """Change the reply shown for ``interaction`` (progress, final result)."""
    if interaction.is_expired():
        log.info("interaction %s expired; not editing its reply", interaction.id)
        return
    kwargs: dict[str, Any] = {"content": content, "allowed_mentions": NO_PINGS}
    if embed is not None:
        kwargs["embed"] = embed
    try:
        await interaction.edit_original_response(**kwargs)
    except discord.NotFound:
        log.info("the reply to interaction %s is gone; not editing it", interaction.id)
        return
    interaction.extras[_PLACEHOLDER_REPLACED] = True


def new_error_id() -> str:
    return uuid.uuid4().hex[:8]


def describe_failure(error: BaseException, *, where: str) -> str:
    """The line a user sees for ``error``; unexpected errors are logged with a traceback and an
    id the user can quote."""
    original = getattr(error, "original", None) or error  # CommandInvokeError wraps the cause
    if isinstance(original, TradeTalkError):
        log.info("%s: %s", where, original)
        return str(original)
    if isinstance(original, NotAdmin | NotOwner):
        return str(original)  # already logged with the server and user ids by the check
    if isinstance(original, app_commands.NoPrivateMessage):
        return "That command only works in a server."
    if isinstance(original, app_commands.CheckFailure):
        log.info("%s: check failed: %s", where, original)
        return str(original) or "You can't use that command here."
    error_id = new_error_id()
    log.error(
        "error %s in %s",
        error_id,
        where,
        exc_info=(type(original), original, original.__traceback__),
    )
    return f"Something went wrong (error {error_id})."


async def report_failure(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the user what went wrong, privately."""
    command = interaction.command.qualified_name if interaction.command else "component"
    message = describe_failure(error, where=f"/{command} (user {interaction.user.id})")
    try:
        await send(interaction, message, ephemeral=True)
    except discord.HTTPException:
        log.exception("could not tell user %s about a failure", interaction.user.id)
