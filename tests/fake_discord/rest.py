"""REST routes a bot uses: login, command sync, channel messages, reactions, typing, files.

Interaction callbacks and webhook followups live in ``interactions.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from . import payloads as p
from .gateway import PRIVILEGED_INTENTS, visible_payload
from .limits import DiscordAPIError
from .messages import (
    bot_message,
    edited_message,
    json_response,
    message_action,
    no_content,
    read_body,
    resolve_reference,
)
from .records import ActionKind, BotAction, Rejection

if TYPE_CHECKING:
    from .server import FakeDiscord

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CUSTOM_EMOJI = re.compile(r"^a?:?\w+:\d+$")
# Flags a bot may set when creating a channel message: SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS.
CHANNEL_MESSAGE_FLAGS = (1 << 2) | (1 << 12)
# Paths authenticated by the token in the URL (or public), not by the Authorization header.
_UNAUTHENTICATED = ("/webhooks/", "/interactions/", "/attachments/")


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # without the /api/v10 prefix
    template: str  # e.g. "/channels/{channel_id}/messages"
    status: int


def _error(status: int, code: int, message: str) -> DiscordAPIError:
    return DiscordAPIError(status, code, message)


class RestApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    # -- plumbing -----------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Counts requests, injects faults, applies rate limits (their headers on every API
        reply), checks the bot token, renders Discord-style errors."""
        if request.path.startswith("/gateway"):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        resource = request.match_info.route.resource
        template = resource.canonical.removeprefix(API_PREFIX) if resource else path
        response: web.StreamResponse
        limit_headers: dict[str, str] = {}
        refused = None
        fault = self.fake.faults.take(request.method, path, template)
        if fault is None and request.path.startswith(API_PREFIX):  # not the CDN (attachments)
            limit_headers, refused = self.fake.rate_limits.take(
                request.method, template, dict(request.match_info)
            )
        if fault is not None:
            response = fault.response()
        elif refused is not None:
            response = refused
        elif not self._authorised(request, path):
            response = json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        else:
            try:
                response = await handler(request)
            except DiscordAPIError as exc:
                response = json_response(exc.body(), status=exc.status)
            except web.HTTPException as exc:  # unknown route or method
                body = {"message": f"{exc.status}: {exc.reason}", "code": 0}
                response = json_response(body, status=exc.status)
        response.headers.update(limit_headers)
        self.fake.requests.append(RequestRecord(request.method, path, template, response.status))
        if response.status >= 400 and isinstance(response, web.Response) and response.body:
            self._record_rejection(request.method, path, response)
        return response

    def _authorised(self, request: web.Request, path: str) -> bool:
        if path.startswith(_UNAUTHENTICATED) or path == "/gateway":
            return True
        return request.headers.get("Authorization") == f"Bot {self.fake.token}"

    def _record_rejection(self, method: str, path: str, response: web.Response) -> None:
        assert isinstance(response.body, bytes)
        body = json.loads(response.body)
        code = int(body.get("code", 0)) if isinstance(body, dict) else 0
        self.fake.rejections.append(Rejection(method, path, response.status, code, body))

    def routes(self) -> list[web.RouteDef]:
        api = API_PREFIX
        channel = api + "/channels/{channel_id}"
        message = channel + "/messages/{message_id}"
        app = api + "/applications/{application_id}"
        return [
            web.get(api + "/users/@me", self.get_me),
            web.get(api + "/users/{user_id}", self.get_user),
            web.get(api + "/oauth2/applications/@me", self.get_application),
            web.get(api + "/applications/@me", self.get_application),
            web.get(api + "/gateway", self.get_gateway),
            web.get(api + "/gateway/bot", self.get_gateway_bot),
            web.get(api + "/guilds/{guild_id}", self.get_guild),
            web.get(api + "/guilds/{guild_id}/members/{user_id}", self.get_member),
            web.get(channel, self.get_channel),
            web.get(channel + "/messages", self.list_messages),
            web.post(channel + "/messages", self.create_message),
            web.get(message, self.get_message),
            web.patch(message, self.edit_message),
            web.delete(message, self.delete_message),
            web.post(message + "/threads", self.start_thread_from_message),
            web.post(api + "/users/@me/channels", self.create_dm),
            web.put(message + "/reactions/{emoji}/@me", self.add_reaction),
            web.delete(message + "/reactions/{emoji}/@me", self.remove_reaction),
            web.post(channel + "/typing", self.typing),
            web.get(app + "/commands", self.get_commands),
            web.put(app + "/commands", self.put_commands),
            web.post(app + "/commands", self.post_command),
            web.delete(app + "/commands/{command_id}", self.delete_command),
            web.get(app + "/guilds/{guild_id}/commands", self.get_commands),
            web.put(app + "/guilds/{guild_id}/commands", self.put_commands),
            web.post(app + "/guilds/{guild_id}/commands", self.post_command),
            web.delete(app + "/guilds/{guild_id}/commands/{command_id}", self.delete_command),
            web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment),
        ]

    # -- identity -----------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        user = {**self.state.users[self.state.bot_id], "verified": True, "mfa_enabled": False}
        return json_response({**user, "flags": 0, "locale": "en-US"})

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise _error(404, 10013, "Unknown User")
        return json_response(user)

    async def get_application(self, request: web.Request) -> web.Response:
        bot = self.state.users[self.state.bot_id]
        owner = self.state.users[self.state.owner_id]
        return json_response(p.application(self.state.application_id, bot, owner))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        # Discord recommends one shard per 1,000 guilds (and requires them from 2,500).
        shards = max(self.fake.gateway.required_shards, math.ceil(len(self.state.guilds) / 1000))
        return json_response(
            {"url": self.fake.gateway_url, "shards": shards, "session_start_limit": limit}
        )

    async def get_guild(self, request: web.Request) -> web.Response:
        guild_id = self._check_guild(request)
        guild = self.state.guild_payload(all_members=False, guild_id=guild_id)
        for key in ("members", "channels", "presences", "voice_states", "threads"):
            guild.pop(key)
        return json_response(guild)

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.state.guild(self._check_guild(request))
        user_id = int(request.match_info["user_id"])
        if user_id not in guild.member_roles:
            raise _error(404, 10007, "Unknown Member")
        return json_response(self.state.member(user_id, guild_id=guild.id))

    def _check_guild(self, request: web.Request) -> int:
        """The guild the path names, if the bot is in it (else 404 Unknown Guild, as for a
        guild the bot was removed from)."""
        raw = request.match_info.get("guild_id", str(self.state.guild_id))
        guild = self.state.guilds.get(int(raw)) if raw.isdigit() else None
        if guild is None or not guild.bot_present:
            raise _error(404, 10004, "Unknown Guild")
        return guild.id

    # -- messages -----------------------------------------------------------------------------

    def _visible(self, message: dict[str, Any]) -> dict[str, Any]:
        """REST applies the app's *approved* intents, not what the gateway session asked for."""
        approved = (~PRIVILEGED_INTENTS | self.fake.privileged_intents) & ((1 << 26) - 1)
        shown = visible_payload("MESSAGE_CREATE", message, approved, self.state.bot_id)
        return shown if shown is not None else message

    def _stored(self, request: web.Request) -> dict[str, Any]:
        channel_id = int(request.match_info["channel_id"])
        message = self.state.message(channel_id, request.match_info["message_id"])
        if message.get("flags", 0) & p.EPHEMERAL:  # ephemeral messages exist only for one user
            raise _error(404, limits.UNKNOWN_MESSAGE, "Unknown Message")
        return message

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.state.channel(int(request.match_info["channel_id"])))

    async def get_message(self, request: web.Request) -> web.Response:
        return json_response(self._visible(self._stored(request)))

    async def list_messages(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self.state.channel(channel_id)
        limit = min(int(request.query.get("limit", 50)), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        found = [
            m
            for mid, m in sorted(self.state.messages.items(), reverse=True)
            if int(m["channel_id"]) == channel_id
            and after < mid < before
            and not m.get("flags", 0) & p.EPHEMERAL
        ]
        return json_response([self._visible(m) for m in found[:limit]])

    async def create_message(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        channel = self.state.channel(channel_id)
        if channel["type"] == p.DM and int(channel["recipients"][0]["id"]) in self.state.closed_dms:
            raise _error(403, limits.CANNOT_SEND_TO_USER, "Cannot send messages to this user")
        body, uploads = await read_body(request)
        limits.check_message(body, files=len(uploads))
        referenced = resolve_reference(self.state, channel_id, body)
        flags = int(body.get("flags") or 0) & CHANNEL_MESSAGE_FLAGS
        message = bot_message(
            self.state,
            self.fake.base_url,
            channel_id,
            body,
            uploads,
            referenced=referenced,
            flags=flags,
        )
        self.state.messages[int(message["id"])] = message
        self.fake.actions.append(message_action(ActionKind.MESSAGE, message, body))
        await self.fake.echo("MESSAGE_CREATE", message)
        return json_response(message)

    async def create_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: the bot's DM channel with a user (the same one each
        time). Whether the user accepts DMs is only known when a message is sent."""
        body, _ = await read_body(request)
        try:
            user_id = int(body.get("recipient_id"))
        except (TypeError, ValueError):
            raise _error(400, 50035, "Invalid Form Body") from None
        if user_id not in self.state.users or user_id == self.state.bot_id:
            raise _error(400, limits.CANNOT_SEND_TO_USER, "Cannot send messages to this user")
        return json_response(self.state.dm_channel(user_id))

    async def start_thread_from_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{channel}/messages/{message}/threads``: a public thread whose id is
        the message's (Discord's "Start Thread from Message"); THREAD_CREATE and MESSAGE_UPDATE
        are dispatched. Only in a guild text channel, with Create Public Threads, once per
        message."""
        channel_id = int(request.match_info["channel_id"])
        channel = self.state.channel(channel_id)
        message = self._stored(request)
        if channel["type"] != p.GUILD_TEXT:
            raise _error(
                400, limits.WRONG_CHANNEL_TYPE, "Cannot execute action on this channel type"
            )
        guild = self.state.guild(int(channel["guild_id"]))
        if not guild.permissions_of(self.state.bot_id) & p.CREATE_PUBLIC_THREADS:
            raise _error(403, limits.MISSING_PERMISSIONS, "Missing Permissions")
        if int(message["id"]) in guild.channels:
            raise _error(
                400,
                limits.THREAD_ALREADY_CREATED,
                "A thread has already been created for this message",
            )
        body, _ = await read_body(request)
        limits.check_thread(body)
        thread = self.state.add_thread(
            channel_id, str(body["name"]), self.state.bot_id, thread_id=int(message["id"])
        )
        duration = body.get("auto_archive_duration") or 1440
        thread["thread_metadata"]["auto_archive_duration"] = duration
        thread["member"] = {
            "id": thread["id"],
            "user_id": str(self.state.bot_id),
            "join_timestamp": p.iso_timestamp(),
            "flags": 0,
        }
        message["thread"] = thread
        message["flags"] = int(message.get("flags") or 0) | p.HAS_THREAD
        self.fake.actions.append(
            BotAction(
                kind=ActionKind.THREAD,
                channel_id=int(thread["id"]),
                message_id=int(message["id"]),
                content=str(body["name"]),
                request_body=body,
            )
        )
        # As Discord documents it: a Thread Create, and a Message Update for the starter
        # message, which now carries the thread.
        await self.fake.echo("THREAD_CREATE", {**thread, "newly_created": True})
        await self.fake.echo("MESSAGE_UPDATE", message)
        return json_response(thread, status=201)

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self._stored(request)
        if int(message["author"]["id"]) != self.state.bot_id:
            raise _error(
                403,
                limits.CANNOT_EDIT_OTHERS_MESSAGE,
                "Cannot edit a message authored by another user",
            )
        body, uploads = await read_body(request)
        limits.check_message_fields(body)
        updated = edited_message(self.state, self.fake.base_url, message, body, uploads)
        limits.check_not_empty(updated)
        self.state.messages[int(updated["id"])] = updated
        self.fake.actions.append(message_action(ActionKind.EDIT, updated, body))
        await self.fake.echo("MESSAGE_UPDATE", updated)
        return json_response(updated)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._stored(request)
        is_own = int(message["author"]["id"]) == self.state.bot_id
        guild = self.state.guild_of(int(message["channel_id"]))
        may_manage = (
            guild is not None and guild.permissions_of(self.state.bot_id) & p.MANAGE_MESSAGES
        )
        if not is_own and not may_manage:
            raise _error(403, 50013, "Missing Permissions")
        del self.state.messages[int(message["id"])]
        self.fake.actions.append(
            BotAction(
                kind=ActionKind.DELETE,
                channel_id=int(message["channel_id"]),
                message_id=int(message["id"]),
                content=message.get("content") or "",
            )
        )
        event = {k: message[k] for k in ("id", "channel_id", "guild_id")}
        await self.fake.echo("MESSAGE_DELETE", event)
        return no_content()

    # -- reactions and typing -----------------------------------------------------------------

    def _emoji(self, request: web.Request) -> str:
        emoji = request.match_info["emoji"]
        if not _CUSTOM_EMOJI.match(emoji) and not any(ord(ch) > 0x2000 for ch in emoji):
            raise _error(400, 10014, "Unknown Emoji")
        return emoji

    async def add_reaction(self, request: web.Request) -> web.Response:
        message = self._stored(request)
        emoji = self._emoji(request)
        users = self.state.reactions.setdefault(int(message["id"]), {}).setdefault(emoji, set())
        users.add(self.state.bot_id)
        self.fake.actions.append(self._reaction_action(ActionKind.REACTION_ADD, message, emoji))
        await self.fake.echo(
            "MESSAGE_REACTION_ADD", self.fake.reaction_event(message, emoji, self.state.bot_id)
        )
        return no_content()

    async def remove_reaction(self, request: web.Request) -> web.Response:
        message = self._stored(request)
        emoji = self._emoji(request)
        self.state.reactions.get(int(message["id"]), {}).get(emoji, set()).discard(
            self.state.bot_id
        )
        self.fake.actions.append(self._reaction_action(ActionKind.REACTION_REMOVE, message, emoji))
        event = self.fake.reaction_event(message, emoji, self.state.bot_id)
        event.pop("member", None)
        await self.fake.echo("MESSAGE_REACTION_REMOVE", event)
        return no_content()

    @staticmethod
    def _reaction_action(kind: ActionKind, message: dict[str, Any], emoji: str) -> BotAction:
        return BotAction(
            kind=kind,
            channel_id=int(message["channel_id"]),
            message_id=int(message["id"]),
            emoji=emoji,
        )

    async def typing(self, request: web.Request) -> web.Response:
        channel_id = int(request.match_info["channel_id"])
        self.state.channel(channel_id)
        self.fake.actions.append(BotAction(kind=ActionKind.TYPING, channel_id=channel_id))
        return no_content()

    async def get_attachment(self, request: web.Request) -> web.Response:
        upload = self.state.uploads.get(int(request.match_info["attachment_id"]))
        if upload is None or upload.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(body=upload.data, content_type=upload.content_type)

    # -- application commands -----------------------------------------------------------------

    def _command_list(self, request: web.Request) -> tuple[list[dict[str, Any]], int | None]:
        if int(request.match_info["application_id"]) != self.state.application_id:
            raise _error(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return self.state.commands.global_commands, None
        self._check_guild(request)
        return self.state.commands.guild_commands.setdefault(int(guild_id), []), int(guild_id)

    def _registered(
        self, command: dict[str, Any], old: list[dict[str, Any]], guild_id: int | None
    ) -> dict[str, Any]:
        kind = command.get("type", 1)
        previous = next((c for c in old if (c["type"], c["name"]) == (kind, command["name"])), None)
        permissions = command.get("default_member_permissions")
        registered = {
            **command,
            "id": previous["id"] if previous else str(self.state.ids.next()),
            "application_id": str(self.state.application_id),
            "version": str(self.state.ids.next()),
            "type": kind,
            "description": command.get("description", "") if kind == 1 else "",
            "default_member_permissions": None if permissions is None else str(permissions),
            "dm_permission": command.get("dm_permission", True),
            "nsfw": command.get("nsfw", False),
            "options": command.get("options") or [],
        }
        if guild_id is not None:
            registered["guild_id"] = str(guild_id)
        return registered

    async def get_commands(self, request: web.Request) -> web.Response:
        commands, _ = self._command_list(request)
        return json_response(commands)

    async def put_commands(self, request: web.Request) -> web.Response:
        commands, guild_id = self._command_list(request)
        wanted = await request.json()
        if not isinstance(wanted, list):
            raise _error(400, 50109, "The request body contains invalid JSON.")
        limits.check_commands(wanted)
        new = [self._registered(c, commands, guild_id) for c in wanted]
        commands[:] = new
        return json_response(new)

    async def post_command(self, request: web.Request) -> web.Response:
        commands, guild_id = self._command_list(request)
        body, _ = await read_body(request)
        others = [
            c for c in commands if (c["type"], c["name"]) != (body.get("type", 1), body.get("name"))
        ]
        limits.check_commands([*others, body])
        registered = self._registered(body, commands, guild_id)
        commands[:] = [*others, registered]
        return json_response(registered, status=201)

    async def delete_command(self, request: web.Request) -> web.Response:
        commands, _ = self._command_list(request)
        command_id = request.match_info["command_id"]
        if not any(c["id"] == command_id for c in commands):
            raise _error(404, 10063, "Unknown application command")
        commands[:] = [c for c in commands if c["id"] != command_id]
        return no_content()
