"""The feed commands of ``tradetalk``: ``follow URL``, ``unfollow URL``, ``feeds`` and ``poll``
(one round, for cron), on the data dir the CLI uses. Plain functions of a store and a poller
returning the text to print, plus `register_commands` to add them to the Typer app."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corpus.fetch import ArticleFetcher
from feeds.digest import digest_text, pending_digests
from feeds.poll import FeedPoller, RoundReport, check_feed
from feeds.store import Feed, FeedStore

if TYPE_CHECKING:
    from rich.console import Console

    from briefings.issue_briefings import IssueBriefings
    from config.settings import Settings
    from tradetalk.engine import Engine

Audit = Callable[[str, str, str, str], None]


def fetcher_for(settings: Settings) -> ArticleFetcher:
    return ArticleFetcher(
        allow_private=settings.allow_private_urls,
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_article_bytes,
    )


def poller_for(
    settings: Settings, store: FeedStore, engine: Engine, fetcher: ArticleFetcher
) -> FeedPoller:
    return FeedPoller(
        store,
        engine,
        fetcher,
        max_items=settings.feed_max_items,
        max_feed_bytes=settings.feed_max_bytes,
    )


def feed_line(feed: Feed) -> str:
    title = f" — {feed.title}" if feed.title else ""
    success = feed.last_success_at or "never"
    error = f"; last error {feed.last_error_at}: {feed.last_error}" if feed.last_error else ""
    waiting = f", {feed.pending} waiting" if feed.pending else ""
    return (
        f"{feed.url}{title}\n  {feed.article_count} articles{waiting}; last success {success}"
        f"{error}; every {feed.interval_s / 60:g} min"
    )


def report_text(report: RoundReport) -> str:
    if report.busy:
        return "Another poll is running; nothing done."
    lines = []
    if report.recovered != (0, 0):
        found, back = report.recovered
        lines.append(
            f"settled after an interrupted round: {found} already ingested, {back} to retry"
        )
    for outcome in report.feeds:
        detail = f": {outcome.error}" if outcome.error else ""
        listed = f" ({outcome.listed} new)" if outcome.listed else ""
        lines.append(f"{outcome.status}{listed}: {outcome.url}{detail}")
    for _, article in report.ingested:
        copy = f" (near-duplicate of {article.duplicate_of})" if article.duplicate_of else ""
        lines.append(f"added: {article.id} — {article.title}{copy}")
    for item, reason in report.skipped:
        lines.append(f"skipped: {item.link} ({reason})")
    for item, reason in report.failed:
        lines.append(f"failed: {item.link} ({reason})")
    return "\n".join(lines) or "No feed is due (see `tradetalk feeds`); nothing to do."


def register_feed_commands(
    app: typer.Typer,
    *,
    engine: Callable[[], Engine],
    library_dir: Callable[[], Path],
    briefings: Callable[[], IssueBriefings],
    settings: Callable[[], Settings],
    failures: Callable[[], AbstractContextManager[None]],
    out: Console,
    audit: Audit,
) -> None:
    """`engine` gives the engine of the library the command works on (created if need be) and
    `library_dir` its directory, where its feed store is (`--server ID`: that server's);
    `briefings` what /whatsnew reads there (for the digest)."""

    def store() -> FeedStore:
        return FeedStore(library_dir())

    def actor() -> str:
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli:unknown"

    @app.command("follow")
    def follow(
        url: Annotated[str, typer.Argument(help="The feed's link (RSS, Atom or RDF).")],
        interval: Annotated[
            float | None, typer.Option("--interval", help="Minutes between polls.", min=1)
        ] = None,
    ) -> None:
        """Follow a feed: `tradetalk poll` (or the bot) adds its new articles."""
        with failures():
            config = settings()

            async def check() -> str | None:
                async with fetcher_for(config) as fetcher:
                    return await check_feed(fetcher, url, max_bytes=config.feed_max_bytes)

            try:
                title = asyncio.run(check())
            except Exception as exc:
                audit("follow", url, "failed", str(exc))
                raise
            minutes = interval or config.feed_interval_minutes
            feed, new = store().follow(url, added_by=actor(), interval_s=minutes * 60)
            audit("follow", url, "ok" if new else "unchanged", title or "")
            named = f" ({title})" if title else ""
            verb = "following" if new else "already following"
            out.print(f"{verb}: {feed.url}{named}, every {minutes:g} min", markup=False)

    @app.command("unfollow")
    def unfollow(url: Annotated[str, typer.Argument(help="A followed feed's link.")]) -> None:
        """Stop following a feed (its articles stay)."""
        with failures():
            feed = store().unfollow(url)
            audit("unfollow", url, "ok", "")
            out.print(f"unfollowed: {feed.url} ({feed.article_count} articles kept)", markup=False)

    @app.command("feeds")
    def list_feeds() -> None:
        """The followed feeds: last success, last error, article count."""
        with failures():
            found = store()
            feeds = found.feeds() if found.path.exists() else []  # reading creates nothing
            if not feeds:
                out.print("No feeds followed; add one with `tradetalk follow URL`.", markup=False)
            for feed in feeds:
                out.print(feed_line(feed), markup=False)

    @app.command("poll")
    def poll(
        every: Annotated[
            bool, typer.Option("--all", help="Poll every feed now, due or not.")
        ] = False,
    ) -> None:
        """One round: poll the due feeds and add their new articles (for cron)."""
        with failures():
            config = settings()
            feeds = store()
            if not feeds.path.exists():  # nothing followed here: no library to load or make
                out.print(report_text(RoundReport()), markup=False)
                return
            eng = engine()

            async def run() -> RoundReport:
                async with fetcher_for(config) as fetcher:
                    return await poller_for(config, feeds, eng, fetcher).run_round(every=every)

            report = asyncio.run(run())
            for item, article in report.ingested:
                audit("ingest", article.id, "ok", f"feed {item.feed_url}: {item.link}")
            out.print(report_text(report), markup=False)
            for digest in pending_digests(feeds, eng, briefings()):
                if digest.channel_id is None:  # a Discord channel's digest is the bot's to post
                    out.print("\n" + digest_text(digest), markup=False)
                    feeds.digested(digest.items)
            if report.ingested:
                eng.merge()  # no bot may be running to merge in the background
