"""Running the real TradeTalk bot against the fake Discord, and what its users would see."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fake_discord import BotAction, FakeDiscord, Upload, connected

from bot.cli_run import feedback_stores
from bot.client import TradeTalkBot
from config.settings import Settings
from corpus.fetch import ArticleFetcher
from tenancy import Libraries
from tenancy.layout import library_settings
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
    """The bot built as ``serve`` builds it, logged in and ready on the fake; `engine` is the
    global library's."""
    async with (
        feedback_stores(settings) as feedback,
        ArticleFetcher(
            allow_private=settings.allow_private_urls,
            timeout=settings.fetch_timeout,
            max_bytes=settings.max_article_bytes,
        ) as fetcher,
    ):
        libraries = Libraries(settings, engine=engine)
        bot = LoopbackBot(
            settings, libraries, feedback=feedback, fetcher=fetcher, guild_ready_timeout=0.05
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


async def recorded_answer(
    bot: TradeTalkBot, message_id: int | None, timeout: float = 3.0, *, server_id: int | None = None
):
    """The feedback record of an answer; the bot files it just after posting the answer, with
    the server it was given in (`server_id`; default: the first of the bot's servers)."""
    assert message_id is not None
    if server_id is None and bot.guilds:
        server_id = min(g.id for g in bot.guilds)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with bot.feedback.using(server_id) as store:
            record = await store.answer(message_id)
        if record is not None:
            return record
        assert loop.time() < deadline, f"answer {message_id} was never recorded"
        await asyncio.sleep(0.02)


class GuildLibrary:
    """What the bot keeps for one server (its engine, audit log, files, feedback), for tests to
    look at; the server's library is created if it has none yet."""

    def __init__(self, bot: TradeTalkBot, guild_id: int) -> None:
        self.bot, self.guild_id = bot, guild_id

    @property
    def engine(self) -> Engine:
        return self.bot.libraries.engine(self.guild_id, create=True)

    @property
    def settings(self) -> Settings:
        return library_settings(self.bot.settings, self.guild_id)

    @property
    def audit(self):
        return self.bot.libraries.audit(self.guild_id)

    @property
    def root(self) -> Path:
        return self.bot.libraries.server(self.guild_id).paths.root

    @property
    def articles_dir(self) -> Path:
        return self.bot.libraries.server(self.guild_id).paths.articles

    async def feedback_summary(self):
        async with self.bot.feedback.using(self.guild_id) as store:
            return await store.summary()


def library_of(bot: TradeTalkBot, guild_id: int) -> GuildLibrary:
    return GuildLibrary(bot, guild_id)


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
