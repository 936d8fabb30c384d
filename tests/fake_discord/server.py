"""FakeDiscord: a loopback Discord (REST + gateway) for end-to-end tests of discord.py bots.

The real, unmodified discord.py client talks to it over HTTP and a websocket on 127.0.0.1;
only ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` are pointed at it.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import discord
import yarl
from aiohttp import web

from . import payloads as p
from .faults import Fault, FaultQueue, route_matches
from .gateway import GUILD_MEMBERS, PRIVILEGED_INTENTS, Gateway
from .interactions import (
    InteractionApi,
    InteractionHandle,
    InteractionState,
    command_data,
    interaction_payload,
)
from .messages import store_upload
from .ratelimits import RateLimiter
from .records import MESSAGE_KINDS, ActionKind, BotAction, EventLog, Rejection
from .rest import RequestRecord, RestApi
from .state import GuildState, ServerState

DEFAULT_TOKEN = "fake-bot-token.loopback.0123456789"
DEFAULT_CHANNELS = ("general", "trade-news", "bot-commands")
_patched_by: FakeDiscord | None = None


class FakeDiscord:
    """A bot and its guilds (one to start with: an owner, an admin and a regular member in
    each), direct messages and threads, served on a random loopback port."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        privileged_intents: discord.Intents | None = None,
        guild_name: str = "Trade Talk Test Server",
        channel_names: Sequence[str] = DEFAULT_CHANNELS,
        bot_name: str = "TradeTalk",
        ack_deadline: float = 3.0,
        heartbeat_interval_ms: int = 41_250,
        rate_limits: RateLimiter | None = None,
    ) -> None:
        """``privileged_intents``: what the developer portal allows (default: all three).
        ``rate_limits``: the per-route limits (default: Discord's, see ``ratelimits``)."""
        self.token = token
        allowed = privileged_intents if privileged_intents is not None else discord.Intents.all()
        self.privileged_intents = allowed.value & PRIVILEGED_INTENTS
        self.ack_deadline = ack_deadline
        self.state = ServerState(
            p.SnowflakeFactory(),
            guild_name=guild_name,
            channel_names=tuple(channel_names),
            bot_name=bot_name,
        )
        self.gateway = Gateway(
            self.state,
            token=token,
            privileged_intents=self.privileged_intents,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.actions: EventLog[BotAction] = EventLog(BotAction.summary)
        self.rejections: EventLog[Rejection] = EventLog(Rejection.summary)
        self.requests: list[RequestRecord] = []
        self.faults = FaultQueue()
        self.rate_limits = rate_limits or RateLimiter()
        self.interactions: dict[int, InteractionState] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._saved: tuple[str, yarl.URL] | None = None

    # -- ids ----------------------------------------------------------------------------------

    @property
    def guild_id(self) -> int:
        return self.state.guild_id

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    @property
    def application_id(self) -> int:
        return self.state.application_id

    @property
    def owner_id(self) -> int:
        return self.state.owner_id

    @property
    def admin_id(self) -> int:
        """A member whose "Moderator" role grants MANAGE_GUILD."""
        return self.state.admin_id

    @property
    def member_id(self) -> int:
        """A regular member with only @everyone permissions."""
        return self.state.member_id

    @property
    def admin_role_id(self) -> int:
        return self.state.admin_role_id

    @property
    def channels(self) -> dict[str, int]:
        """Text channel ids by name."""
        return dict(self.state.channel_ids)

    @property
    def channel_id(self) -> int:
        """The first text channel ("general"), where helpers post by default."""
        return next(iter(self.state.channel_ids.values()))

    # -- guilds, threads and direct messages ----------------------------------------------------

    def add_guild(
        self,
        name: str,
        channel_names: Sequence[str] = DEFAULT_CHANNELS,
        *,
        prefix: str = "",
        shard: tuple[int, int] | None = None,
    ) -> GuildState:
        """Another guild the bot is in (add it before the bot connects, or `add_bot` after):
        its own owner, admin (``.admin_id``), member (``.member_id``) and channels; ``shard``
        (id, count) picks an id on that shard."""
        return self.state.add_guild(
            name, tuple(channel_names), prefix=prefix or f"{name[:8]}-", shard=shard
        )

    def guild(self, guild_id: int) -> GuildState:
        return self.state.guild(guild_id)

    def dm_channel(self, user_id: int) -> int:
        """The id of the DM channel between ``user_id`` and the bot."""
        return int(self.state.dm_channel(user_id)["id"])

    async def create_thread(
        self, parent_channel_id: int, name: str, *, owner: int | None = None
    ) -> int:
        """A user starts a public thread in a guild channel (THREAD_CREATE); its id."""
        guild = self.state.guild_of(parent_channel_id)
        if guild is None:
            raise ValueError("threads live in guild channels, not DMs")
        thread = self.state.add_thread(parent_channel_id, name, owner or guild.member_id)
        await self.gateway.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return int(thread["id"])

    def command_listing(self, guild_id: int | None = None) -> list[str]:
        """The slash command names a member of ``guild_id`` (default: the primary guild) is
        offered when typing "/": the guild's own commands and the global ones. A name
        registered in both scopes is listed twice, as Discord's client does."""
        guild = self.state.guild(guild_id)
        commands = self.state.commands
        listed = [*commands.guild_commands.get(guild.id, []), *commands.global_commands]
        return sorted(c["name"] for c in listed if c.get("type", 1) == 1)

    def refuse_dms(self, user_id: int) -> None:
        """The user's privacy settings refuse direct messages from the bot (403 50007)."""
        self.state.closed_dms.add(user_id)

    async def create_role(self, guild_id: int, name: str, *, permissions: int = 0) -> int:
        """A guild's admin creates a role (GUILD_ROLE_CREATE); its id."""
        guild = self.state.guild(guild_id)
        role_id = self.state.ids.next()
        guild.roles[role_id] = p.role(role_id, name, permissions, position=len(guild.roles))
        await self.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": guild.roles[role_id]}
        )
        return role_id

    async def remove_bot(self, guild_id: int) -> None:
        """The guild kicks the bot (GUILD_DELETE without ``unavailable``: discord.py's
        ``on_guild_remove``)."""
        guild = self.state.guild(guild_id)
        await self.gateway.dispatch("GUILD_DELETE", {"id": str(guild.id)})
        guild.bot_present = False

    async def add_bot(self, guild_id: int) -> None:
        """The guild invites the bot (GUILD_CREATE without ``unavailable``: ``on_guild_join``)."""
        guild = self.state.guild(guild_id)
        guild.bot_present = True
        session = self.gateway.session_for(guild.id)
        members = bool(session and session.intents & GUILD_MEMBERS)
        payload = self.state.guild_payload(all_members=members, guild_id=guild.id)
        payload.pop("unavailable")  # a join, not a guild coming back online
        await self.gateway.dispatch("GUILD_CREATE", payload)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        rest = RestApi(self)
        app = web.Application(middlewares=[rest.middleware])
        app.add_routes(rest.routes())
        app.add_routes(InteractionApi(self).routes())
        # A separate resume path proves the client resumes where READY told it to.
        app.add_routes([web.get("/gateway", self.gateway.handle)])
        app.add_routes([web.get("/gateway-resume", self.gateway.handle)])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.gateway.resume_url = f"ws://127.0.0.1:{self.port}/gateway-resume"

    async def stop(self) -> None:
        self.unpatch_discord()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        self.patch_discord()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def patch_discord(self) -> None:
        """Point discord.py's REST base and default gateway at this server."""
        global _patched_by
        if _patched_by is not None and _patched_by is not self:
            raise RuntimeError("another FakeDiscord is already patched into discord.py")
        if self._saved is None:
            gateway_cls = discord.gateway.DiscordWebSocket
            self._saved = (discord.http.Route.BASE, gateway_cls.DEFAULT_GATEWAY)
            discord.http.Route.BASE = self.api_url
            gateway_cls.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
            _patched_by = self

    def unpatch_discord(self) -> None:
        global _patched_by
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None
            _patched_by = None

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """``with fake.patched():`` for tests that start/stop the server themselves."""
        self.patch_discord()
        try:
            yield self
        finally:
            self.unpatch_discord()

    # -- injecting user activity --------------------------------------------------------------

    async def send_message(
        self,
        content: str,
        *,
        author: int | None = None,
        channel_id: int | None = None,
        mentions_bot: bool = False,
        reference_message_id: int | None = None,
        reply_ping: bool = True,
        attachments: Sequence[p.Upload] = (),
    ) -> dict[str, Any]:
        """A user posts a message (MESSAGE_CREATE); returns the stored message payload.

        ``mentions_bot`` prefixes ``<@bot>`` unless the content already mentions the bot.
        ``reference_message_id`` makes it a reply; ``reply_ping`` pings the replied-to author.
        """
        state = self.state
        channel_id = channel_id or self.channel_id
        guild = state.guild_of(channel_id)  # None: a DM channel
        if author is None:
            author = guild.member_id if guild is not None else self._dm_user(channel_id)
        author_id = author
        if guild is not None and author_id not in guild.member_roles:
            raise ValueError(f"user {author_id} is not a member of guild {guild.id}")
        if mentions_bot and self.bot_id not in state.mentioned_ids(content):
            content = f"<@{self.bot_id}> {content}"
        referenced = None
        mentioned = state.mentioned_ids(content)
        if reference_message_id is not None:
            referenced = state.message(channel_id, reference_message_id)
            if reply_ping:
                mentioned = list(dict.fromkeys([*mentioned, int(referenced["author"]["id"])]))
        message_id = state.ids.next()
        files = [store_upload(state, self.base_url, channel_id, u) for u in attachments]
        guild_id = guild.id if guild is not None else None
        message = p.message(
            message_id,
            channel_id,
            guild_id,
            state.users[author_id],
            content,
            author_member=state.member(author_id, with_user=False, guild_id=guild_id)
            if guild_id is not None
            else None,
            mentions=state.mention_payloads(mentioned, guild_id),
            attachments=files,
            referenced=referenced,
        )
        state.messages[message_id] = message
        await self.gateway.dispatch("MESSAGE_CREATE", message)
        return message

    async def add_reaction(self, message_id: int, emoji: str, user: int | None = None) -> None:
        """A user reacts to a stored message (MESSAGE_REACTION_ADD)."""
        user_id = self.member_id if user is None else user
        message = self.state.messages[int(message_id)]
        self.state.reactions.setdefault(int(message_id), {}).setdefault(emoji, set()).add(user_id)
        event = self.reaction_event(message, emoji, user_id)
        await self.gateway.dispatch("MESSAGE_REACTION_ADD", event)

    def _dm_user(self, channel_id: int) -> int:
        """The user on the other end of a DM channel."""
        for user_id, channel in self.state.dm_channels.items():
            if int(channel["id"]) == int(channel_id):
                return user_id
        raise ValueError(f"{channel_id} is not a DM channel")

    def reaction_event(self, message: dict[str, Any], emoji: str, user_id: int) -> dict[str, Any]:
        name, _, emoji_id = emoji.rpartition(":") if ":" in emoji else (emoji, "", "")
        partial_emoji = {
            "id": emoji_id or None,
            "name": name.removeprefix("a:"),
            "animated": name.startswith("a:"),
        }
        event = {
            "user_id": str(user_id),
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "emoji": partial_emoji,
            "message_author_id": message["author"]["id"],
            "burst": False,
            "type": 0,
        }
        if message.get("guild_id"):  # in a DM there is no guild and no member
            event["guild_id"] = message["guild_id"]
            event["member"] = self.state.member(user_id, guild_id=int(message["guild_id"]))
        return event

    async def send_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: int | None = None,
        channel_id: int | None = None,
        roles: list[int] | None = None,
        permissions: int | None = None,
        attachments: Mapping[str, p.Upload] | None = None,
        age: float = 0.0,
        locale: str = "en-US",
        bypass_permissions: bool = False,
    ) -> InteractionHandle:
        """A user runs slash command ``/name`` (``"group sub"`` for subcommands).

        Option types come from the registered command when it was synced, else from the Python
        value. ``age`` backdates the interaction's snowflake (> 3 s means too late to ack).
        Like Discord, refuses to show a command whose ``default_member_permissions`` the user
        lacks, unless ``bypass_permissions``.
        """
        channel_id = channel_id or self.channel_id
        user_id = self._default_user(channel_id) if user is None else user
        self._check_can_see(name, user_id, channel_id, roles, permissions, bypass_permissions)
        data = command_data(self, name, options or {}, attachments or {}, channel_id)
        return await self._dispatch_interaction(
            2, data, user_id, channel_id, roles, permissions, age, locale
        )

    async def send_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: int | None = None,
        channel_id: int | None = None,
    ) -> InteractionHandle:
        """A user types into option ``focused`` of ``/name``; the bot should answer choices."""
        channel_id = channel_id or self.channel_id
        user_id = self._default_user(channel_id) if user is None else user
        data = command_data(self, name, options, {}, channel_id, focused=focused)
        return await self._dispatch_interaction(4, data, user_id, channel_id, None, None, 0.0)

    async def send_component(
        self,
        message_id: int,
        custom_id: str,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
        user: int | None = None,
    ) -> InteractionHandle:
        """A user clicks a button (type 2) or picks from a select (type 3) on a bot message."""
        message = self.state.messages[int(message_id)]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        user_id = self._default_user(int(message["channel_id"])) if user is None else user
        return await self._dispatch_interaction(
            3, data, user_id, int(message["channel_id"]), None, None, 0.0, message=message
        )

    async def send_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, str],
        *,
        message_id: int | None = None,
        user: int | None = None,
        channel_id: int | None = None,
    ) -> InteractionHandle:
        """A user submits a modal the bot showed: each text input's custom id -> value, one
        action row each, as Discord's client sends them."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ]
        data: dict[str, Any] = {"custom_id": custom_id, "components": rows}
        message = self.state.messages[int(message_id)] if message_id is not None else None
        channel = int(message["channel_id"]) if message else (channel_id or self.channel_id)
        user_id = self._default_user(channel) if user is None else user
        return await self._dispatch_interaction(
            5, data, user_id, channel, None, None, 0.0, message=message
        )

    def _default_user(self, channel_id: int) -> int:
        """Who acts when a test names nobody: the guild's regular member, or the DM's user."""
        guild = self.state.guild_of(channel_id)
        return guild.member_id if guild is not None else self._dm_user(channel_id)

    def _check_can_see(
        self,
        name: str,
        user_id: int,
        channel_id: int,
        roles: list[int] | None,
        permissions: int | None,
        bypass: bool,
    ) -> None:
        guild = self.state.guild_of(channel_id)
        command = self.state.commands.find(name.split()[0], guild.id if guild else None)
        if guild is None:
            # Discord's client offers a DM only the global commands allowed in DMs.
            contexts = (command or {}).get("contexts")
            hidden = (
                command is None
                or command.get("dm_permission") is False
                or (contexts is not None and p.CONTEXT_BOT_DM not in contexts)
            )
            if hidden and not bypass:
                raise PermissionError(f"Discord would not show /{name} in a DM")
            return
        required = (command or {}).get("default_member_permissions")
        if bypass or required is None:
            return
        have = guild.permissions_of(user_id, roles) if permissions is None else permissions
        if int(required) & ~have:
            raise PermissionError(
                f"Discord would not show /{name} to user {user_id} "
                f"(needs {required}, has {have}); pass bypass_permissions=True to send anyway"
            )

    async def _dispatch_interaction(
        self,
        interaction_type: int,
        data: dict[str, Any],
        user_id: int,
        channel_id: int,
        roles: list[int] | None,
        permissions: int | None,
        age: float,
        locale: str = "en-US",
        message: dict[str, Any] | None = None,
    ) -> InteractionHandle:
        interaction_id = self.state.ids.next(at=time.time() - age)
        token = "aW50ZXJhY3Rpb24" + p.new_token()
        payload = interaction_payload(
            self,
            interaction_id,
            token,
            interaction_type,
            data,
            user_id=user_id,
            channel_id=channel_id,
            roles=roles,
            permissions=permissions,
            message=message,
            locale=locale,
        )
        self.interactions[interaction_id] = InteractionState(
            id=interaction_id,
            token=token,
            type=interaction_type,
            channel_id=channel_id,
            user_id=user_id,
            payload=payload,
            component_message_id=int(message["id"]) if message else None,
        )
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return InteractionHandle(interaction_id, token, self)

    async def echo(self, event: str, data: dict[str, Any]) -> None:
        """Dispatch an event caused by the bot itself (Discord echoes the bot's own messages)."""
        if self.gateway.session is not None and not self.gateway.session.invalid:
            await self.gateway.dispatch(event, data)

    # -- observing the bot --------------------------------------------------------------------

    async def wait_for_action(
        self,
        predicate: Callable[[BotAction], bool] | None = None,
        *,
        kind: ActionKind | str | None = None,
        timeout: float = 3.0,
    ) -> BotAction:
        """The earliest not-yet-awaited bot action of ``kind`` matching ``predicate``."""

        def match(action: BotAction) -> bool:
            return (kind is None or action.kind == kind) and (
                predicate is None or predicate(action)
            )

        return await self.actions.wait_for(match, timeout, str(kind or "bot action"))

    async def wait_for_message(
        self,
        predicate: Callable[[BotAction], bool] | None = None,
        *,
        channel_id: int | None = None,
        timeout: float = 3.0,
    ) -> BotAction:
        """The next channel message the bot posted (POST /channels/{id}/messages)."""

        def match(action: BotAction) -> bool:
            return (channel_id is None or action.channel_id == channel_id) and (
                predicate is None or predicate(action)
            )

        return await self.wait_for_action(match, kind=ActionKind.MESSAGE, timeout=timeout)

    async def wait_for_rejection(
        self, code: int | None = None, *, status: int | None = None, timeout: float = 3.0
    ) -> Rejection:
        """The next request the fake refused (optionally with this Discord error code/status)."""

        def match(r: Rejection) -> bool:
            return (code is None or r.code == code) and (status is None or r.status == status)

        return await self.rejections.wait_for(match, timeout, f"rejection code={code}")

    async def wait_for_gateway_op(self, op: int, timeout: float = 3.0) -> dict[str, Any]:
        """The next frame with opcode ``op`` the client sent (2 IDENTIFY, 6 RESUME, ...)."""
        return await self.gateway.received.wait_for(
            lambda f: f.get("op") == op, timeout, f"op {op}"
        )

    def gateway_ops(self, op: int) -> list[dict[str, Any]]:
        """Every frame with opcode ``op`` the client has sent so far."""
        return self.gateway.received.matching(lambda f: f.get("op") == op)

    def messages_seen(self) -> list[BotAction]:
        """Every action so far that showed a user text from the bot."""
        return self.actions.matching(lambda a: a.kind in MESSAGE_KINDS)

    def request_count(self, pattern: str) -> int:
        """Requests matching ``"POST /channels/*/messages"`` or a route template, any status."""
        return sum(1 for r in self.requests if route_matches(pattern, r.method, r.path, r.template))

    def request_counts(self) -> Counter[str]:
        """Requests so far per route template, e.g. ``"POST /channels/{channel_id}/messages"``."""
        return Counter(f"{r.method} {r.template}" for r in self.requests)

    # -- faults -------------------------------------------------------------------------------

    def fail_next(
        self,
        route_pattern: str,
        *,
        status: int = 429,
        retry_after: float = 0.05,
        count: int = 1,
        is_global: bool = False,
    ) -> None:
        """The next ``count`` requests matching ``route_pattern`` get ``status`` (429 or 5xx).

        discord.py retries a 429 after ``retry_after`` and a 500/502/504 after 1 s, 3 s, ...
        """
        self.faults.add(Fault(route_pattern, status, retry_after, is_global, count))

    def reject_next_identify(self, close_code: int) -> None:
        """Close the next IDENTIFY with ``close_code`` (e.g. 4004, 4014) whatever it contains."""
        self.gateway.identify_close_codes.append(close_code)

    async def drop_gateway(self, code: int = 4000, *, invalidate_session: bool = False) -> None:
        """Close the live gateway connection; the client reconnects and RESUMEs.

        ``code=1006`` (``ABRUPT_CLOSE``) kills the TCP connection without a close frame.
        4007/4009 or ``invalidate_session`` end the session: the RESUME gets INVALID_SESSION and
        the client IDENTIFYs again.
        """
        await self.gateway.drop(code, invalidate=invalidate_session)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        await self.gateway.send_op(7)

    def hold_gateway(self) -> contextlib.AbstractAsyncContextManager[None]:
        """``async with fake.hold_gateway():`` new connections wait before HELLO until exit.

        Together with ``drop_gateway`` this makes dispatches pile up so RESUME must replay them.
        """
        return self.gateway.hold_connections()


__all__ = ["DEFAULT_TOKEN", "FakeDiscord"]
