"""The fake's data: guilds (their roles, channels, threads and members), direct-message channels,
users, stored messages and commands.

A user exists once (``users``) and is a member of any number of guilds, with roles per guild, as
on Discord. The first guild is the *primary* one: the attributes that name one guild's things
(``guild_id``, ``admin_id``, ``channels``...) are the primary guild's, so single-guild tests
read as they always did.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from . import payloads as p
from .limits import UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_MESSAGE, DiscordAPIError

_USER_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class CommandStore:
    """Registered application commands, global and per guild, keyed by name (ids are stable)."""

    global_commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def find(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        """The command a user in ``guild_id`` (None: a DM) would pick; guild commands shadow
        global ones."""
        scoped = self.guild_commands.get(guild_id, []) if guild_id is not None else []
        for command in [*scoped, *self.global_commands]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        return None


@dataclass
class GuildState:
    """One guild: its roles, channels (threads included), members and their roles."""

    id: int
    name: str
    owner_id: int
    admin_id: int  # a member whose "Moderator" role grants MANAGE_GUILD
    member_id: int  # a member with @everyone's permissions only
    admin_role_id: int
    bot_role_id: int
    roles: dict[int, dict[str, Any]]
    member_roles: dict[int, list[int]]  # member user id -> role ids
    channels: dict[int, dict[str, Any]]  # text channels and threads
    channel_ids: dict[str, int]  # text channels (not threads) by name
    joined_at: str
    bot_present: bool = True  # the bot is a member (GUILD_DELETE makes it False)

    def permissions_of(self, user_id: int, role_ids: list[int] | None = None) -> int:
        """Guild-level permissions as Discord computes them (owner and ADMINISTRATOR get all)."""
        if user_id == self.owner_id:
            return p.ALL_PERMISSIONS
        roles = self.member_roles.get(user_id, []) if role_ids is None else role_ids
        value = int(self.roles[self.id]["permissions"])
        for role_id in roles:
            value |= int(self.roles[role_id]["permissions"]) if role_id in self.roles else 0
        return p.ALL_PERMISSIONS if value & p.ADMINISTRATOR else value

    @property
    def channel_id(self) -> int:
        """The first text channel ("general")."""
        return next(iter(self.channel_ids.values()))

    @property
    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] in p.THREAD_TYPES]


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
        self.bot_id = ids.next()
        # New applications share their id with their bot user.
        self.application_id = self.bot_id
        self.users: dict[int, dict[str, Any]] = {
            self.bot_id: p.user(self.bot_id, bot_name, bot=True)
        }
        self.bot_name = bot_name
        self.guilds: dict[int, GuildState] = {}
        self.dm_channels: dict[int, dict[str, Any]] = {}  # by the other user's id
        self.messages: dict[int, dict[str, Any]] = {}
        self.reactions: dict[int, dict[str, set[int]]] = {}
        self.uploads: dict[int, p.Upload] = {}
        self.commands = CommandStore()
        self.closed_dms: set[int] = set()  # users whose privacy settings refuse the bot's DMs
        self.primary = self.add_guild(guild_name, channel_names)
        # The application's owner is the primary guild's owner (they made the bot for it).
        self.owner_id = self.primary.owner_id

    # -- guilds -------------------------------------------------------------------------------

    def add_guild(
        self,
        name: str,
        channel_names: tuple[str, ...] = ("general",),
        *,
        prefix: str = "",
        shard: tuple[int, int] | None = None,
    ) -> GuildState:
        """A guild with an owner, an admin (role "Moderator" with MANAGE_GUILD), a regular
        member and text channels; the bot is a member. User names get ``prefix``. With
        ``shard=(id, count)`` its id puts it on that shard (Discord: ``(id >> 22) % count``)."""
        guild_id = self.ids.next()
        if shard is not None:
            step = 0
            while (guild_id >> 22) % shard[1] != shard[0]:
                step += 1  # the timestamp part decides the shard: try the next millisecond
                guild_id = self.ids.next(at=time.time() + step / 1000)
        owner, admin, member = (
            self.add_user_only(f"{prefix}{n}") for n in ("guild-owner", "admin", "member")
        )
        admin_role, bot_role = self.ids.next(), self.ids.next()
        roles = {
            guild_id: p.role(guild_id, "@everyone", p.EVERYONE_PERMISSIONS, position=0),
            admin_role: p.role(admin_role, "Moderator", p.MANAGE_GUILD, position=2),
            bot_role: p.role(
                bot_role, self.bot_name, p.EVERYONE_PERMISSIONS, position=1, managed=True
            ),
        }
        channels: dict[int, dict[str, Any]] = {}
        channel_ids: dict[str, int] = {}
        for position, channel_name in enumerate(channel_names):
            channel_id = self.ids.next()
            channels[channel_id] = p.text_channel(channel_id, guild_id, channel_name, position)
            channel_ids[channel_name] = channel_id
        guild = GuildState(
            id=guild_id,
            name=name,
            owner_id=owner,
            admin_id=admin,
            member_id=member,
            admin_role_id=admin_role,
            bot_role_id=bot_role,
            roles=roles,
            member_roles={self.bot_id: [bot_role], owner: [], admin: [admin_role], member: []},
            channels=channels,
            channel_ids=channel_ids,
            joined_at=p.iso_timestamp(),
        )
        self.guilds[guild_id] = guild
        return guild

    def guild(self, guild_id: int | None = None) -> GuildState:
        if guild_id is None:
            return self.primary
        try:
            return self.guilds[int(guild_id)]
        except (KeyError, ValueError):
            raise DiscordAPIError(404, UNKNOWN_GUILD, "Unknown Guild") from None

    def guild_of(self, channel_id: int) -> GuildState | None:
        """The guild a channel or thread belongs to; None for a DM channel."""
        channel = self.channel(channel_id)
        return self.guilds[int(channel["guild_id"])] if "guild_id" in channel else None

    # Attributes of the primary guild, by the names single-guild tests use.
    @property
    def guild_id(self) -> int:
        return self.primary.id

    @property
    def admin_id(self) -> int:
        return self.primary.admin_id

    @property
    def member_id(self) -> int:
        return self.primary.member_id

    @property
    def admin_role_id(self) -> int:
        return self.primary.admin_role_id

    @property
    def bot_role_id(self) -> int:
        return self.primary.bot_role_id

    @property
    def roles(self) -> dict[int, dict[str, Any]]:
        return self.primary.roles

    @property
    def member_roles(self) -> dict[int, list[int]]:
        return self.primary.member_roles

    @property
    def channel_ids(self) -> dict[str, int]:
        return self.primary.channel_ids

    @property
    def guild_name(self) -> str:
        return self.primary.name

    @property
    def joined_at(self) -> str:
        return self.primary.joined_at

    # -- people -------------------------------------------------------------------------------

    def add_user_only(self, username: str) -> int:
        user_id = self.ids.next()
        self.users[user_id] = p.user(user_id, username)
        return user_id

    def add_user(
        self, username: str, *, roles: list[int] | None = None, guild_id: int | None = None
    ) -> int:
        """Add another member of a guild (default: the primary one) and return their id."""
        user_id = self.add_user_only(username)
        self.guild(guild_id).member_roles[user_id] = list(roles or [])
        return user_id

    def join(self, user_id: int, guild_id: int, roles: list[int] | None = None) -> None:
        """An existing user becomes a member of another guild too."""
        self.guild(guild_id).member_roles[user_id] = list(roles or [])

    def permissions_of(
        self, user_id: int, role_ids: list[int] | None = None, guild_id: int | None = None
    ) -> int:
        return self.guild(guild_id).permissions_of(user_id, role_ids)

    def member(
        self, user_id: int, *, with_user: bool = True, guild_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        guild = self.guild(guild_id)
        user = self.users[user_id] if with_user else None
        return p.member(
            user, guild.member_roles.get(user_id, []), joined_at=guild.joined_at, **extra
        )

    # -- payloads -----------------------------------------------------------------------------

    def guild_payload(self, *, all_members: bool, guild_id: int | None = None) -> dict[str, Any]:
        """GUILD_CREATE; without the members intent Discord only sends the bot's own member."""
        guild = self.guild(guild_id)
        member_ids = list(guild.member_roles) if all_members else [self.bot_id]
        text = [c for c in guild.channels.values() if c["type"] not in p.THREAD_TYPES]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(guild.member_roles),
            "joined_at": guild.joined_at,
            "features": [],
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": str(text[0]["id"]) if text else None,
            "roles": list(guild.roles.values()),
            "channels": text,
            "threads": guild.threads,  # active threads
            "members": [self.member(uid, guild_id=guild.id) for uid in member_ids],
            "presences": [],
            "voice_states": [],
            "emojis": [],
            "stickers": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # -- channels and threads -----------------------------------------------------------------

    def channel(self, channel_id: int) -> dict[str, Any]:
        try:
            key = int(channel_id)
        except (TypeError, ValueError):
            key = 0
        for guild in self.guilds.values():
            if key in guild.channels:
                return guild.channels[key]
        for dm in self.dm_channels.values():
            if int(dm["id"]) == key:
                return dm
        raise DiscordAPIError(404, UNKNOWN_CHANNEL, "Unknown Channel")

    def dm_channel(self, user_id: int) -> dict[str, Any]:
        """The DM channel between the bot and ``user_id`` (created on first use)."""
        found = self.dm_channels.get(user_id)
        if found is None:
            found = self.dm_channels[user_id] = p.dm_channel(self.ids.next(), self.users[user_id])
        return found

    def add_thread(
        self, parent_id: int, name: str, owner_id: int, *, thread_id: int | None = None
    ) -> dict[str, Any]:
        """A public thread in a guild text channel; one started from a message has the
        message's id (``thread_id``), as on Discord."""
        parent = self.channel(parent_id)
        guild = self.guild(int(parent["guild_id"]))
        new_id = thread_id if thread_id is not None else self.ids.next()
        thread = p.thread_channel(new_id, guild.id, parent_id, name, owner_id)
        guild.channels[int(thread["id"])] = thread
        return thread

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

    def mention_payloads(self, user_ids: list[int], guild_id: int | None = None) -> list[dict]:
        """Mentioned users; in a guild each with their member object (None: a DM, no member)."""
        if guild_id is None:
            return [dict(self.users[uid]) for uid in user_ids]
        guild = self.guild(guild_id)
        return [
            {**self.users[uid], "member": self.member(uid, with_user=False, guild_id=guild.id)}
            if uid in guild.member_roles
            else dict(self.users[uid])
            for uid in user_ids
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
