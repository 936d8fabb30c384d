"""Fixtures for end-to-end tests against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator

import pytest
from fake_discord import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started, patched-in FakeDiscord. Afterwards no task may still be running and asyncio
    may not have complained (unclosed sessions, exceptions nobody retrieved)."""
    complaints = _AsyncioComplaints()
    logging.getLogger("asyncio").addHandler(complaints)
    try:
        async with FakeDiscord() as fake:
            yield fake
        await assert_no_leaked_tasks()
        gc.collect()
        assert not complaints.messages, complaints.messages
    finally:
        logging.getLogger("asyncio").removeHandler(complaints)


class _AsyncioComplaints(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def assert_no_leaked_tasks(grace: float = 1.0) -> None:
    """Fail if tasks other than the current one are still pending after ``grace`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while True:
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending:
            return
        if loop.time() > deadline:
            raise AssertionError(f"leaked tasks: {[t.get_coro() for t in pending]}")
        await asyncio.sleep(0.01)
