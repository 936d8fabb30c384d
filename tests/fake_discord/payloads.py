"""Builders for the JSON objects Discord sends, shaped the way discord.py 2.7 parses them.

Only fields discord.py reads (or that tests assert on) are filled in; everything else is left out,
as Discord itself omits most optional fields.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | ADD_REACTIONS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})

# Interaction contexts: in a guild, in the bot's DM, in another private channel.
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1

# What a bot may do in a DM with a user (sent as the channel's and the app's permissions).
DM_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
)

# Message flags.
HAS_THREAD = 1 << 5
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Default upload limit of a guild without boosts (10 MiB).
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class SnowflakeFactory:
    """Time-based snowflakes, so discord.py's ``snowflake_time`` (and interaction ages) are real."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def next(self, at: float | None = None) -> int:
        """A new unique snowflake for Unix time ``at`` (default: now); 18-19 digits today."""
        ms = int((time.time() if at is None else at) * 1000)
        increment = next(self._increment) & 0xFFF
        return ((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (1 << 12) | increment


def snowflake_time(snowflake: int) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000


def iso_timestamp(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()


def new_token() -> str:
    return secrets.token_urlsafe(48)


@dataclass(frozen=True)
class Upload:
    """A file a fake user attaches to a message or a slash-command option."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


def user(user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(user_id),
        "username": username,
        "global_name": None if bot else username.title(),
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def role(
    role_id: int, name: str, permissions: int, *, position: int, managed: bool = False
) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "flags": 0,
    }


def member(
    user_payload: dict[str, Any] | None,
    role_ids: list[int],
    *,
    permissions: int | None = None,
    joined_at: str | None = None,
) -> dict[str, Any]:
    """A guild member; ``user_payload=None`` gives the partial member attached to messages."""
    data: dict[str, Any] = {
        "roles": [str(r) for r in role_ids],
        "joined_at": joined_at or iso_timestamp(),
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if user_payload is not None:
        data["user"] = user_payload
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def text_channel(channel_id: int, guild_id: int, name: str, position: int) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "permission_overwrites": [],
    }


def dm_channel(channel_id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    """The DM channel between the bot and one user, as GET /channels/{id} returns it."""
    return {
        "id": str(channel_id),
        "type": DM,
        "last_message_id": None,
        "recipients": [recipient],
        "flags": 0,
    }


def thread_channel(
    channel_id: int, guild_id: int, parent_id: int, name: str, owner_id: int
) -> dict[str, Any]:
    """A public thread, as THREAD_CREATE and GUILD_CREATE's ``threads`` carry it."""
    return {
        "id": str(channel_id),
        "type": PUBLIC_THREAD,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": iso_timestamp(),
            "locked": False,
            "create_timestamp": iso_timestamp(),
        },
    }


def application(app_id: int, bot_user: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``: every key discord.py's ``AppInfo`` indexes directly."""
    return {
        "id": str(app_id),
        "name": bot_user["username"],
        "description": "Loopback test application",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "verify_key": secrets.token_hex(32),
        "flags": 0,
        "bot": bot_user,
        "team": None,
        "interactions_endpoint_url": None,
        "summary": "",
    }


def attachment(
    attachment_id: int, upload: Upload, url: str, description: str | None = None
) -> dict[str, Any]:
    data = {
        "id": str(attachment_id),
        "filename": upload.filename,
        "size": len(upload.data),
        "url": url,
        "proxy_url": url,
        "content_type": upload.content_type,
    }
    if description:  # the alt text a client reads out and shows on hover
        data["description"] = description
    return data


def message(
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    author: dict[str, Any],
    content: str,
    *,
    author_member: dict[str, Any] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    referenced: dict[str, Any] | None = None,
    flags: int = 0,
    webhook_id: int | None = None,
    interaction_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message as MESSAGE_CREATE and the REST API return it; ``guild_id=None`` for a DM
    (no guild id and no member object, as Discord sends them)."""
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": 19 if referenced is not None else 0,
        "content": content,
        "author": author,
        "mentions": mentions or [],
        "mention_roles": [],
        "mention_everyone": False,
        "embeds": embeds or [],
        "attachments": attachments or [],
        "components": components or [],
        "pinned": False,
        "tts": False,
        "flags": flags,
        "timestamp": iso_timestamp(snowflake_time(message_id)),
        "edited_timestamp": None,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        if author_member is not None:
            data["member"] = author_member
    if referenced is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            "guild_id": referenced.get("guild_id"),
        }
        data["referenced_message"] = referenced
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
        data["application_id"] = str(webhook_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    return data


def command_option(name: str, value: Any, option_type: int) -> dict[str, Any]:
    return {"name": name, "type": option_type, "value": value}


def python_option_type(value: Any) -> int:
    """Application-command option type Discord would use for a plain Python value."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3
