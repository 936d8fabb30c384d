"""Running the real TradeTalk bot against the fake Discord, and what its users would see."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fake_discord import BotAction, FakeDiscord, Upload, connected

from bot.client import TradeTalkBot
from bot.feedback_store import FILE_NAME, FeedbackStore
from config.settings import Settings
from corpus.fetch import ArticleFetcher
from tradetalk.engine import Engine

FIXTURE_ARTICLES = Path(__file__).resolve().parents[1] / "fixtures" / "articles"
PRAIRIE_TIMES = FIXTURE_ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"
# Only the Prairie Times article answers this; the bundled article doesn't.
PRAIRIE_QUESTION = "How long will biologic drug data be protected?"
BUNDLED_QUESTION = "What is blocking the deal?"
UNANSWERABLE = "Who won the 1998 football world cup?"


class LoopbackBot(TradeTalkBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before re-IDENTIFYing; pointless against a local fake."""


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, settings: Settings, engine: Engine
) -> AsyncIterator[LoopbackBot]:
    """The bot built as ``serve`` builds it, logged in and ready on the fake."""
    async with (
        FeedbackStore(settings.data_dir / FILE_NAME) as feedback,
        ArticleFetcher(
            allow_private=settings.allow_private_urls,
            timeout=settings.fetch_timeout,
            max_bytes=settings.max_article_bytes,
        ) as fetcher,
    ):
        bot = LoopbackBot(
            settings, engine, feedback=feedback, fetcher=fetcher, guild_ready_timeout=0.05
        )
        async with connected(bot, fake):
            yield bot


def article_upload(path: Path = PRAIRIE_TIMES) -> Upload:
    return Upload(path.name, path.read_bytes(), "text/markdown")


def markdown_article(
    title: str, source: str, body: str, *, url: str | None = None, date: str = "2018-09-30"
) -> bytes:
    lines = ["---", f"title: {title!r}", f"source: {source!r}", f"date: {date}"]
    if url:
        lines.append(f"url: {url}")
    return ("\n".join([*lines, "---", "", body]) + "\n").encode()


def citation_fields(reply: BotAction) -> list[dict]:
    return [f for e in reply.embeds for f in e.get("fields") or [] if f["name"].startswith("[")]


async def recorded_answer(bot: TradeTalkBot, message_id: int | None, timeout: float = 3.0):
    """The feedback record of an answer; the bot files it just after posting the answer."""
    assert message_id is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (record := await bot.feedback.answer(message_id)) is None:
        assert loop.time() < deadline, f"answer {message_id} was never recorded"
        await asyncio.sleep(0.02)
    return record


def assert_no_pings(reply: BotAction) -> None:
    assert reply.allowed_mentions is not None and reply.allowed_mentions.get("parse") == []
    assert not reply.pinged_user_ids and not reply.pinged_everyone


class LoopWatch:
    """The longest time the event loop went without running a task: a blocked loop would also
    starve the gateway heartbeat."""

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> LoopWatch:
        self._task = asyncio.create_task(self._watch())
        return self

    async def stop(self) -> float:
        """Stop watching; the longest stall seen, in seconds."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.longest

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            self.longest = max(self.longest, now - last - self.tick)
            last = now
