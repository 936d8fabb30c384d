"""The fake's data: one guild, its roles, channels and members, stored messages and commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import payloads as p
from .limits import UNKNOWN_CHANNEL, UNKNOWN_MESSAGE, DiscordAPIError

_USER_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class CommandStore:
    """Registered application commands, global and per guild, keyed by name (ids are stable)."""

    global_commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def find(self, name: str, guild_id: int) -> dict[str, Any] | None:
        """The command a user in ``guild_id`` would pick; guild commands shadow global ones."""
        for command in [*self.guild_commands.get(guild_id, []), *self.global_commands]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        return None


class ServerState:
    """Everything the fake Discord knows. Ids are exposed as attributes for tests."""

    def __init__(
        self,
        ids: p.SnowflakeFactory,
        *,
        guild_name: str,
        channel_names: tuple[str, ...],
        bot_name: str,
    ) -> None:
        self.ids = ids
        self.guild_id = ids.next()
        self.bot_id = ids.next()
        # New applications share their id with their bot user.
        self.application_id = self.bot_id
        self.owner_id = ids.next()
        self.admin_id = ids.next()
        self.member_id = ids.next()
        self.admin_role_id = ids.next()
        self.bot_role_id = ids.next()

        self.users: dict[int, dict[str, Any]] = {
            self.bot_id: p.user(self.bot_id, bot_name, bot=True),
            self.owner_id: p.user(self.owner_id, "guild-owner"),
            self.admin_id: p.user(self.admin_id, "admin"),
            self.member_id: p.user(self.member_id, "member"),
        }
        self.roles: dict[int, dict[str, Any]] = {
            self.guild_id: p.role(self.guild_id, "@everyone", p.EVERYONE_PERMISSIONS, position=0),
            self.admin_role_id: p.role(self.admin_role_id, "Moderator", p.MANAGE_GUILD, position=2),
            self.bot_role_id: p.role(
                self.bot_role_id, bot_name, p.EVERYONE_PERMISSIONS, position=1, managed=True
            ),
        }
        self.member_roles: dict[int, list[int]] = {
            self.bot_id: [self.bot_role_id],
            self.owner_id: [],
            self.admin_id: [self.admin_role_id],
            self.member_id: [],
        }
        self.channels: dict[int, dict[str, Any]] = {}
        self.channel_ids: dict[str, int] = {}
        for position, name in enumerate(channel_names):
            channel_id = ids.next()
            self.channels[channel_id] = p.text_channel(channel_id, self.guild_id, name, position)
            self.channel_ids[name] = channel_id
        self.guild_name = guild_name
        self.joined_at = p.iso_timestamp()

        self.messages: dict[int, dict[str, Any]] = {}
        self.reactions: dict[int, dict[str, set[int]]] = {}
        self.uploads: dict[int, p.Upload] = {}
        self.commands = CommandStore()

    # -- people -------------------------------------------------------------------------------

    def add_user(self, username: str, *, roles: list[int] | None = None) -> int:
        """Add another guild member (e.g. a second regular user) and return their id."""
        user_id = self.ids.next()
        self.users[user_id] = p.user(user_id, username)
        self.member_roles[user_id] = list(roles or [])
        return user_id

    def permissions_of(self, user_id: int, role_ids: list[int] | None = None) -> int:
        """Guild-level permissions as Discord computes them (owner and ADMINISTRATOR get all)."""
        if user_id == self.owner_id:
            return p.ALL_PERMISSIONS
        roles = self.member_roles.get(user_id, []) if role_ids is None else role_ids
        value = int(self.roles[self.guild_id]["permissions"])
        for role_id in roles:
            value |= int(self.roles[role_id]["permissions"]) if role_id in self.roles else 0
        return p.ALL_PERMISSIONS if value & p.ADMINISTRATOR else value

    def member(self, user_id: int, *, with_user: bool = True, **extra: Any) -> dict[str, Any]:
        user = self.users[user_id] if with_user else None
        return p.member(user, self.member_roles.get(user_id, []), joined_at=self.joined_at, **extra)

    # -- guild --------------------------------------------------------------------------------

    def guild_payload(self, *, all_members: bool) -> dict[str, Any]:
        """GUILD_CREATE; without the members intent Discord only sends the bot's own member."""
        member_ids = list(self.users) if all_members else [self.bot_id]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.users),
            "joined_at": self.joined_at,
            "features": [],
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": str(next(iter(self.channels))),
            "roles": list(self.roles.values()),
            "channels": list(self.channels.values()),
            "threads": [],
            "members": [self.member(uid) for uid in member_ids],
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def channel(self, channel_id: int) -> dict[str, Any]:
        try:
            return self.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise DiscordAPIError(404, UNKNOWN_CHANNEL, "Unknown Channel") from None

    def message(self, channel_id: int, message_id: int | str) -> dict[str, Any]:
        self.channel(channel_id)
        try:
            found = self.messages[int(message_id)]
        except (KeyError, ValueError):
            found = None
        if found is None or int(found["channel_id"]) != int(channel_id):
            raise DiscordAPIError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return found

    # -- mentions -----------------------------------------------------------------------------

    def mentioned_ids(self, content: str | None) -> list[int]:
        ids = [int(m) for m in _USER_MENTION.findall(content or "")]
        return [uid for uid in dict.fromkeys(ids) if uid in self.users]

    def mention_payloads(self, user_ids: list[int]) -> list[dict[str, Any]]:
        return [
            {**self.users[uid], "member": self.member(uid, with_user=False)} for uid in user_ids
        ]

    def pinged(
        self,
        content: str | None,
        allowed: dict[str, Any] | None,
        referenced: dict[str, Any] | None,
    ) -> tuple[list[int], bool]:
        """Who a bot message notifies, applying ``allowed_mentions`` as Discord does."""
        in_content = self.mentioned_ids(content)
        reply_author = int(referenced["author"]["id"]) if referenced else None
        everyone = "@everyone" in (content or "") or "@here" in (content or "")
        if allowed is None:  # Discord's default: parse everything, ping the replied-to author
            users = in_content + ([reply_author] if reply_author else [])
            return list(dict.fromkeys(users)), everyone
        parse = allowed.get("parse") or []
        if "users" in parse:
            users = in_content
        else:
            explicit = {int(u) for u in allowed.get("users") or []}
            users = [uid for uid in in_content if uid in explicit]
        if reply_author and allowed.get("replied_user"):
            users.append(reply_author)
        return list(dict.fromkeys(users)), everyone and "everyone" in parse
