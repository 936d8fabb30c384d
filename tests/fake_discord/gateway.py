"""The gateway websocket: HELLO, heartbeats, IDENTIFY/READY, RESUME with replay, close codes.

Frames are sent as plain JSON text. discord.py asks for ``compress=zlib-stream`` but only
decompresses *binary* frames, so text frames are parsed as-is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .records import EventLog
from .state import ServerState

# Intent bits (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Which intent a dispatch needs before Discord sends it at all: (in a guild, in a DM).
_EVENT_INTENT = {
    "MESSAGE_CREATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "TYPING_START": (GUILD_MESSAGE_TYPING, DIRECT_MESSAGE_TYPING),
    "THREAD_CREATE": (GUILDS, GUILDS),
    "THREAD_UPDATE": (GUILDS, GUILDS),
    "THREAD_DELETE": (GUILDS, GUILDS),
    "GUILD_CREATE": (GUILDS, GUILDS),
    "GUILD_DELETE": (GUILDS, GUILDS),
    "GUILD_ROLE_CREATE": (GUILDS, GUILDS),
}

CLOSE_REASONS = {
    4000: "Unknown error.",
    4001: "Unknown opcode.",
    4004: "Authentication failed.",
    4005: "Already authenticated.",
    4007: "Invalid seq.",
    4009: "Session timed out.",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s).",
}
# After these Discord forgets the session, so a RESUME gets INVALID_SESSION.
SESSION_ENDING_CODES = frozenset({4007, 4009})
ABRUPT_CLOSE = 1006  # not a real close frame: the TCP connection just dies


def guild_of_event(event: str, data: dict[str, Any]) -> int | None:
    """The guild a dispatch is about (None: a DM, or no guild at all)."""
    if event in ("GUILD_CREATE", "GUILD_DELETE", "GUILD_UPDATE"):
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id else None


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's formula; DMs go to shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def visible_payload(event: str, data: dict[str, Any], intents: int, bot_id: int) -> dict | None:
    """What a client with ``intents`` receives for a dispatch, or ``None`` if nothing.

    Without MESSAGE_CONTENT, Discord empties content, embeds, attachments and components of
    guild messages unless the bot wrote them or is mentioned in them; DMs with the bot keep
    their content.
    """
    in_dm = guild_of_event(event, data) is None
    needed = _EVENT_INTENT.get(event)
    if needed is not None and not intents & needed[1 if in_dm else 0]:
        return None
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or intents & MESSAGE_CONTENT or in_dm:
        return data
    author_id = int(data.get("author", {}).get("id", 0))
    mentioned = any(int(m["id"]) == bot_id for m in data.get("mentions", []))
    if author_id == bot_id or mentioned:
        return data
    return {**data, "content": "", "embeds": [], "attachments": [], "components": []}


@dataclass
class GatewaySession:
    """A session survives disconnects until invalidated; it keeps every frame for RESUME."""

    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)  # (shard id, shard count) from IDENTIFY
    sharded: bool = False  # IDENTIFY named a shard (READY then says which)
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    invalid: bool = False


class Gateway:
    def __init__(
        self,
        state: ServerState,
        *,
        token: str,
        privileged_intents: int,
        heartbeat_interval_ms: int,
    ) -> None:
        self.state = state
        self.token = token
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.resume_url = ""
        self.received: EventLog[dict[str, Any]] = EventLog(lambda f: f"op{f.get('op')}")
        self.connections: list[dict[str, Any]] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.session: GatewaySession | None = None  # the last one identified or resumed
        self.by_shard: dict[int, GatewaySession] = {}  # the live session of each shard
        self.required_shards = 1  # Discord closes with 4011 below this (2,500 guilds each)
        self.replayed = 0
        self.identify_close_codes: deque[int] = deque()
        self._lock = asyncio.Lock()
        self._open = asyncio.Event()
        self._open.set()
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}

    # -- connection handling ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        self._sockets[ws] = request
        self.connections.append({"path": request.path, "query": dict(request.query)})
        try:
            await self._open.wait()
            await self._send(
                ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(ws, json.loads(msg.data))
        finally:
            self._sockets.pop(ws, None)
            if self.session is not None and self.session.ws is ws:
                self.session.ws = None
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        logged = dict(frame)
        if isinstance(data, dict) and "token" in data:
            logged["d"] = {**data, "token": "<redacted>"}
        self.received.append(logged)
        if op == 1:
            await self._send(ws, {"op": 11})
        elif op == 2:
            await self._identify(ws, data or {})
        elif op == 6:
            await self._resume(ws, data or {})
        elif op == 8:
            await self._request_members(data or {})
        elif op not in (3, 4):
            await self._close(ws, 4001)

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if any(s.ws is ws for s in self.sessions.values()):
            await self._close(ws, 4005)
            return
        if self.identify_close_codes:
            await self._close(ws, self.identify_close_codes.popleft())
            return
        if data.get("token") != self.token:
            await self._close(ws, 4004)
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._close(ws, 4014)
            return
        raw_shard = data.get("shard")
        shard = (int(raw_shard[0]), int(raw_shard[1])) if raw_shard else (0, 1)
        if not 0 <= shard[0] < shard[1]:
            await self._close(ws, 4010)
            return
        if shard[1] < self.required_shards:
            await self._close(ws, 4011)
            return
        session = GatewaySession(secrets.token_hex(16), intents, shard, raw_shard is not None)
        self.sessions[session.session_id] = session
        self.session = session
        self.by_shard[shard[0]] = session
        async with self._lock:
            session.ws = ws
            await self._dispatch_locked(session, "READY", self._ready_payload(session))
            for guild_id in self._guilds_of(session):
                guild = self.state.guild_payload(
                    all_members=bool(intents & GUILD_MEMBERS), guild_id=guild_id
                )
                await self._dispatch_locked(session, "GUILD_CREATE", guild)

    def _guilds_of(self, session: GatewaySession) -> list[int]:
        """The guilds the bot is in that this session's shard serves."""
        shard_id, count = session.shard
        return [
            g.id
            for g in self.state.guilds.values()
            if g.bot_present and shard_of(g.id, count) == shard_id
        ]

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        bot_user = {**self.state.users[self.state.bot_id], "verified": True, "mfa_enabled": False}
        ready = {
            "v": 10,
            "user": bot_user,
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "guilds": [{"id": str(g), "unavailable": True} for g in self._guilds_of(session)],
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if session.sharded:  # Discord echoes the shard it was asked for
            ready["shard"] = list(session.shard)
        return ready

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalid or data.get("token") != self.token:
            await self._send(ws, {"op": 9, "d": False})
            return
        async with self._lock:
            session.ws = ws
            self.session = session
            self.by_shard[session.shard[0]] = session
            after = int(data.get("seq") or 0)
            for frame in session.history:
                if frame["s"] > after:
                    self.replayed += 1
                    await self._send(ws, frame)
            await self._dispatch_locked(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _request_members(self, data: dict[str, Any]) -> None:
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        guild = self.state.guild(int(data.get("guild_id") or self.state.guild_id))
        members = [
            self.state.member(uid, guild_id=guild.id)
            for uid in guild.member_roles
            if (not wanted or uid in wanted)
            and self.state.users[uid]["username"].lower().startswith(query)
        ]
        chunk = {
            "guild_id": str(guild.id),
            "members": members[: int(data.get("limit") or 0) or None],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # -- sending ------------------------------------------------------------------------------

    @staticmethod
    async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        # A socket that is going away is not an error: the frame stays in history for RESUME.
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(frame))

    async def _close(self, ws: web.WebSocketResponse, code: int) -> None:
        await ws.close(code=code, message=CLOSE_REASONS.get(code, "").encode())

    async def _dispatch_locked(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.history.append(frame)
        if session.ws is not None and not session.ws.closed:
            await self._send(session.ws, frame)

    def session_for(self, guild_id: int | None) -> GatewaySession | None:
        """The live session of the shard a guild's events go to (DMs: shard 0's)."""
        if not self.by_shard:
            return self.session
        count = next(iter(self.by_shard.values())).shard[1]
        return self.by_shard.get(shard_of(guild_id, count))

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send a dispatch to the session of the shard it belongs to (buffered while that
        session is disconnected).

        Returns False when the bot's intents mean Discord would not send it.
        """
        session = self.session_for(guild_of_event(event, data))
        if session is None or session.invalid:
            raise RuntimeError(f"cannot dispatch {event}: no gateway session (is the bot ready?)")
        payload = visible_payload(event, data, session.intents, self.state.bot_id)
        if payload is None:
            return False
        async with self._lock:
            await self._dispatch_locked(session, event, payload)
        return True

    # -- faults -------------------------------------------------------------------------------

    async def drop(self, code: int, *, invalidate: bool = False) -> None:
        """Close the live connection with ``code`` (1006: kill the TCP connection instead)."""
        session = self.session
        ws = session.ws if session is not None else None
        if session is None or ws is None:
            raise RuntimeError("no live gateway connection to drop")
        async with self._lock:
            session.ws = None  # from now on dispatches are only buffered
            session.invalid = invalidate or code in SESSION_ENDING_CODES
        if code == ABRUPT_CLOSE:
            transport = self._sockets[ws].transport
            if transport is not None:
                transport.abort()
        else:
            await ws.close(code=code, message=CLOSE_REASONS.get(code, "").encode())

    async def send_op(self, op: int, data: Any = None) -> None:
        """Send a raw non-dispatch opcode (7 RECONNECT, 9 INVALID_SESSION) on the live socket."""
        session = self.session
        if session is None or session.ws is None:
            raise RuntimeError("no live gateway connection")
        if op == 9 and not data:
            session.invalid = True
        await self._send(session.ws, {"op": op, "d": data})

    @contextlib.asynccontextmanager
    async def hold_connections(self) -> AsyncIterator[None]:
        """New connections wait before HELLO until the block exits (to buffer dispatches)."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    async def close_all(self) -> None:
        self._open.set()
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"Fake Discord shutting down")
