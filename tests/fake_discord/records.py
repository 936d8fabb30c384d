"""What the bot did, as the fake saw it: typed records plus an awaitable, append-only log.

Tests assert on these records rather than on the bot's internals, so a test states what a user
would see (the reply text, its embeds, whether it was ephemeral, who got pinged).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from .payloads import EPHEMERAL

T = TypeVar("T")


class ActionKind(StrEnum):
    """Everything the bot can do that a user could notice."""

    MESSAGE = "message"  # POST /channels/{id}/messages
    EDIT = "edit"  # PATCH /channels/{id}/messages/{id}
    DELETE = "delete"  # DELETE /channels/{id}/messages/{id}
    REACTION_ADD = "reaction_add"
    REACTION_REMOVE = "reaction_remove"
    TYPING = "typing"
    THREAD = "thread"  # POST /channels/{id}/messages/{id}/threads (a thread on a message)
    RESPONSE = "response"  # interaction callback 4
    DEFER = "defer"  # callback 5 ("Bot is thinking...")
    DEFER_UPDATE = "defer_update"  # callback 6
    UPDATE = "update"  # callback 7 (edits the component's message)
    AUTOCOMPLETE = "autocomplete"  # callback 8
    MODAL = "modal"  # callback 9
    FOLLOWUP = "followup"  # POST /webhooks/{app}/{token}
    EDIT_ORIGINAL = "edit_original"  # PATCH .../messages/@original
    EDIT_FOLLOWUP = "edit_followup"  # PATCH .../messages/{id}
    DELETE_ORIGINAL = "delete_original"
    DELETE_FOLLOWUP = "delete_followup"


# Kinds after which a user sees message text from the bot.
MESSAGE_KINDS = frozenset(
    {
        ActionKind.MESSAGE,
        ActionKind.EDIT,
        ActionKind.RESPONSE,
        ActionKind.UPDATE,
        ActionKind.FOLLOWUP,
        ActionKind.EDIT_ORIGINAL,
        ActionKind.EDIT_FOLLOWUP,
    }
)


@dataclass(frozen=True)
class BotAction:
    """One accepted request from the bot. Message fields describe the message *after* the action."""

    kind: ActionKind
    channel_id: int | None = None
    message_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    pinged_user_ids: frozenset[int] = frozenset()
    pinged_everyone: bool = False
    interaction_id: int | None = None
    flags: int = 0
    emoji: str | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)
    request_body: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def text(self) -> str:
        """Content plus every embed's visible text, for "does the reply say X" assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [(embed.get("author") or {}).get("name") or ""]
            for f in embed.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
            parts += [(embed.get("footer") or {}).get("text") or ""]
        return "\n".join(p for p in parts if p)

    def summary(self) -> str:
        where = f"interaction={self.interaction_id}" if self.interaction_id else "channel"
        return f"{self.kind.value}({where}, {self.text[:60]!r})"


@dataclass(frozen=True)
class Rejection:
    """A request the fake refused (validation error, fault injection, expired interaction...)."""

    method: str
    path: str
    status: int
    code: int
    body: dict[str, Any]

    def summary(self) -> str:
        return f"{self.method} {self.path} -> {self.status} code={self.code}"


class NotSeen(AssertionError):
    """Raised when an awaited record does not show up in time."""


class EventLog(Generic[T]):
    """Append-only log whose waiters each *take* the earliest unseen matching entry.

    Taking (rather than "the next one from now on") makes waits race-free: a reply that arrived
    before the test started waiting is still found, and is never returned twice.
    """

    def __init__(self, describe: Callable[[T], str] = repr) -> None:
        self.items: list[T] = []
        self._taken: set[int] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._describe = describe

    def __iter__(self) -> Iterator[T]:
        return iter(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def append(self, item: T) -> None:
        self.items.append(item)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def matching(self, predicate: Callable[[T], bool]) -> list[T]:
        return [item for item in self.items if predicate(item)]

    def _take(self, predicate: Callable[[T], bool]) -> T | None:
        for index, item in enumerate(self.items):
            if index not in self._taken and predicate(item):
                self._taken.add(index)
                return item
        return None

    async def wait_for(self, predicate: Callable[[T], bool], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := self._take(predicate)) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = "; ".join(self._describe(i) for i in self.items[-8:]) or "nothing"
                raise NotSeen(f"no {what} within {timeout}s (last seen: {seen})")
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.remove(waiter)
        return found
