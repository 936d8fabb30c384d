"""Fixtures for end-to-end tests against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_discord import FakeDiscord

from config.settings import Settings
from tradetalk.engine import Engine

from .bot_harness import running_bot


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


# -- the TradeTalk bot over the fake ------------------------------------------------------------


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, real_encoder) -> Path:
    """A data dir whose index holds the bundled corpus, built once; tests get a copy."""
    data = tmp_path_factory.mktemp("bundled-index") / "data"
    Engine(Settings(_env_file=None, data_dir=data), encoder=real_encoder).open()
    # The model and its libraries are millions of long-lived objects; without this, each
    # test's gc.collect() (which surfaces unclosed sessions) rescans them all (~0.7 s).
    gc.freeze()
    return data


@pytest.fixture
def start_bot(fake_discord: FakeDiscord, real_encoder, bundled_index: Path, tmp_path: Path):
    """``async with start_bot(**settings) as bot``: the real bot, engine and model, with its own
    data dir, connected to the fake. Settings default to syncing commands to the fake's guild."""

    @contextlib.asynccontextmanager
    async def start(**overrides) -> AsyncIterator:
        overrides.setdefault("guild_ids", [fake_discord.guild_id])
        data = tmp_path / "data"
        if "bundled_dir" not in overrides and not data.exists():
            # The index's "current" link is relative, so the copy is a working index.
            shutil.copytree(bundled_index, data, symlinks=True)
        settings = Settings(data_dir=data, **overrides)
        engine = Engine(settings, encoder=real_encoder)
        await asyncio.to_thread(engine.open)
        async with running_bot(fake_discord, settings, engine) as bot:
            yield bot
        # Whatever the test did: every message the bot sent or edited pinged nobody.
        for action in fake_discord.messages_seen():
            assert (action.allowed_mentions or {}).get("parse") == [], action.summary()

    return start


@pytest.fixture
async def tradetalk(start_bot) -> AsyncIterator:
    """The bot with default settings (commands synced to the fake's guild)."""
    async with start_bot() as bot:
        yield bot
