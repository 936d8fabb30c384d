"""One feedback store per library: a server's votes stay in its own directory, direct
messages' in the global library's.

Each open store holds a SQLite connection and aiosqlite's thread for it, so at a thousand
servers only the recently used ones stay open (`max_open`); a store in use is never closed
under its user.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.feedback_store import FeedbackStore

MAX_OPEN = 32

Key = int | None  # a server id, or None for the global library (direct messages)


class FeedbackStores:
    def __init__(self, path_of: Callable[[Key], Path], *, max_open: int = MAX_OPEN) -> None:
        """`path_of(server id or None)` is where that library keeps its votes."""
        self.path_of = path_of
        self.max_open = max_open
        self._open: OrderedDict[Key, FeedbackStore] = OrderedDict()  # least recent first
        self._users: dict[Key, int] = {}
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def using(self, key: Key) -> AsyncIterator[FeedbackStore]:
        """The store of a server (None: the global library's), open until the block ends."""
        async with self._lock:
            store = self._open.get(key)
            if store is None:
                store = await FeedbackStore(self.path_of(key)).open()
                self._open[key] = store
            self._open.move_to_end(key)
            self._users[key] = self._users.get(key, 0) + 1
        try:
            yield store
        finally:
            self._users[key] -= 1
            await self._close_idle()

    async def _close_idle(self) -> None:
        async with self._lock:
            idle = [k for k in self._open if not self._users.get(k)]
            for key in idle[: max(0, len(self._open) - self.max_open)]:
                await self._open.pop(key).close()

    async def forget(self, key: Key) -> None:
        """Close a server's store (the bot left it; its files may be purged)."""
        async with self._lock:
            store = self._open.pop(key, None)
        if store is not None:
            await store.close()  # waits for a write in progress

    def open_count(self) -> int:
        return len(self._open)

    async def close(self) -> None:
        async with self._lock:
            stores = list(self._open.values())
            self._open.clear()
        for store in stores:
            await store.close()

    async def __aenter__(self) -> FeedbackStores:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
