"""Running the real TradeTalk bot against the fake Discord, and what its users would see."""

from __future__ import annotations

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
        bot = LoopbackBot(settings, engine, feedback=feedback, fetcher=fetcher,
                          guild_ready_timeout=0.05)
        async with connected(bot, fake):
            yield bot


def article_upload(path: Path = PRAIRIE_TIMES) -> Upload:
    return Upload(path.name, path.read_bytes(), "text/markdown")


def markdown_article(title: str, source: str, body: str, *, url: str | None = None,
                     date: str = "2018-09-30") -> bytes:
    lines = ["---", f"title: {title!r}", f"source: {source!r}", f"date: {date}"]
    if url:
        lines.append(f"url: {url}")
    return ("\n".join([*lines, "---", "", body]) + "\n").encode()


def citation_fields(reply: BotAction) -> list[dict]:
    return [f for e in reply.embeds for f in e.get("fields") or [] if f["name"].startswith("[")]


def assert_no_pings(reply: BotAction) -> None:
    assert reply.allowed_mentions is not None and reply.allowed_mentions.get("parse") == []
    assert not reply.pinged_user_ids and not reply.pinged_everyone
