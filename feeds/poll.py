"""One round of polling: every feed that is due is fetched (a conditional GET) and parsed; the
items it lists for the first time are recorded; then up to the per-round cap of each feed's
waiting items are claimed, their pages fetched with the article fetcher (size cap, timeout,
private addresses refused, every redirect checked) and read (trafilatura), pages the library
has are skipped, and the rest are ingested together: one build for the round (a copy of an
article under another link is kept and linked as one, as `ingest` does).

A round holds ``DATA_DIR/feeds.lock`` (flock), so the bot's loop and a cron `tradetalk poll`
never run one at the same time; whatever a round that died left claimed is settled first
(`FeedStore.recover`). Bound to one library (data dir, engine): the bot makes one per library.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import feedparser

from corpus.articles import Article, parse_article
from corpus.fetch import ArticleFetcher
from errors import FeedError, StorageError, TradeTalkError
from feeds.known import LibraryView
from feeds.store import Feed, FeedEntry, FeedStore, Item
from retrieval import crashpoints
from retrieval.records import ArticleInfo
from retrieval.storage import try_file_lock
from tradetalk.engine import Engine, IngestResult

log = logging.getLogger(__name__)

LOCK_FILE = "feeds.lock"
PAGES_AT_ONCE = 4  # item pages fetched concurrently


@dataclass(frozen=True)
class FeedOutcome:
    url: str
    status: str  # "new items", "not modified", "no new items", "failed"
    listed: int = 0  # items it listed for the first time
    error: str | None = None


@dataclass
class RoundReport:
    busy: bool = False  # another round (this process or another) was running: nothing done
    feeds: list[FeedOutcome] = field(default_factory=list)
    ingested: list[tuple[Item, ArticleInfo]] = field(default_factory=list)
    skipped: list[tuple[Item, str]] = field(default_factory=list)
    failed: list[tuple[Item, str]] = field(default_factory=list)
    recovered: tuple[int, int] = (0, 0)  # items a dead round left: found ingested, put back


def round_lock(data_dir: Path) -> contextlib.AbstractContextManager[bool]:
    """Yields False (at once) if a round is running elsewhere."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return try_file_lock(data_dir / LOCK_FILE)


def parse_feed(data: bytes, url: str) -> tuple[str | None, list[FeedEntry]]:
    """The title and items of an RSS 2.0, Atom or RDF document. Raises `FeedError` for
    anything that is not a feed. (CPU work: call it from a thread.)"""
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    # feedparser reads what it can of a broken document; broken with nothing read is an error.
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception")
        detail = f" ({str(reason).splitlines()[0][:120]})" if reason else ""
        raise FeedError(f"{url}: not an RSS, Atom or RDF feed{detail}")
    entries = []
    for entry in parsed.entries:
        link = str(entry.get("link") or "").strip()
        if not link.startswith(("http://", "https://")):
            continue  # an item without a page to fetch
        key = str(entry.get("id") or entry.get("guid") or link).strip()[:1000]
        title = " ".join(str(entry.get("title") or "").split())
        entries.append(FeedEntry(key, link, title or link, _published(entry)))
    title = " ".join(str(parsed.feed.get("title") or "").split()) or None
    return title, entries


async def check_feed(fetcher: ArticleFetcher, url: str, *, max_bytes: int) -> str | None:
    """Fetch and parse `url` as a feed (before following it); its title. Raises `FeedError`
    or `FetchError` with the reason. Needs no library: following loads no index."""
    fetched = await fetcher.fetch_feed(url, max_bytes=max_bytes)
    if fetched.data is None:  # no validators were sent: a 304 here is the server's mistake
        raise FeedError(f"{url}: answered 'not modified' to a request that asked for the feed")
    title, _ = await asyncio.to_thread(parse_feed, fetched.data, url)
    return title


def _published(entry) -> str | None:
    for name in ("published_parsed", "updated_parsed"):
        stamp = entry.get(name)
        if stamp:
            try:
                # feedparser's struct_time is UTC; the date is the UTC day, not this machine's.
                return dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC).date().isoformat()
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _in_library(library: LibraryView, item: Item) -> str | None:
    """The id of a claimed item's article if the library has it (its round died after the
    build was published)."""
    for link in (item.fetched_url, item.link):
        if link and (found := library.has_link(link)):
            return found
    return None


class FeedPoller:
    """Polls the feeds of one library (its `FeedStore` and `Engine`) with one fetcher."""

    def __init__(
        self,
        store: FeedStore,
        engine: Engine,
        fetcher: ArticleFetcher,
        *,
        max_items: int,
        max_feed_bytes: int,
    ) -> None:
        self.store = store
        self.engine = engine
        self.fetcher = fetcher
        self.max_items = max_items
        self.max_feed_bytes = max_feed_bytes
        self._running = asyncio.Lock()

    @property
    def data_dir(self) -> Path:
        return self.store.path.parent

    async def check(self, url: str) -> str | None:
        return await check_feed(self.fetcher, url, max_bytes=self.max_feed_bytes)

    async def run_round(self, *, every: bool = False) -> RoundReport:
        """Poll the due feeds (all of them with `every`) and ingest what they brought."""
        if self._running.locked():
            return RoundReport(busy=True)
        async with self._running:
            with round_lock(self.data_dir) as ours:
                if not ours:
                    return RoundReport(busy=True)
                return await self._round(every)

    async def _round(self, every: bool) -> RoundReport:
        report = RoundReport()
        library = await asyncio.to_thread(self._library)
        report.recovered = await asyncio.to_thread(
            self.store.recover, lambda item: _in_library(library, item)
        )
        for feed in await asyncio.to_thread(self.store.due, every=every):
            report.feeds.append(await self._poll_feed(feed, library))
        candidates: list[tuple[Item, Article]] = []
        for feed in await asyncio.to_thread(self.store.feeds):
            claimed = await asyncio.to_thread(self.store.claim, feed.url, self.max_items)
            if claimed:
                crashpoints.reached("feed-items-claimed")
                candidates += await self._read_pages(claimed, report)
        accepted = await asyncio.to_thread(self._new_ones, candidates, report)
        if accepted:
            await self._ingest(accepted, report)
        return report

    def _library(self) -> LibraryView:
        return LibraryView(self.engine.index)

    async def _poll_feed(self, feed: Feed, library: LibraryView) -> FeedOutcome:
        try:
            fetched = await self.fetcher.fetch_feed(
                feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                max_bytes=self.max_feed_bytes,
            )
            if fetched.not_modified:
                await asyncio.to_thread(
                    self.store.polled,
                    feed.url,
                    title=None,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    not_modified=True,
                )
                return FeedOutcome(feed.url, "not modified")
            if fetched.data is None:
                raise FeedError(f"{feed.url}: answered 'not modified' without being asked")
            title, entries = await asyncio.to_thread(parse_feed, fetched.data, feed.url)
        except TradeTalkError as exc:
            log.info("feed %s failed: %s", feed.url, exc)
            await asyncio.to_thread(self.store.failed, feed.url, str(exc))
            return FeedOutcome(feed.url, "failed", error=str(exc))
        listed = await asyncio.to_thread(
            self.store.list_entries, feed.url, entries, lambda link: bool(library.has_link(link))
        )
        await asyncio.to_thread(
            self.store.polled,
            feed.url,
            title=title,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            not_modified=False,
        )
        return FeedOutcome(feed.url, "new items" if listed else "no new items", listed)

    async def _read_pages(
        self, items: list[Item], report: RoundReport
    ) -> list[tuple[Item, Article]]:
        gate = asyncio.Semaphore(PAGES_AT_ONCE)

        async def read(item: Item) -> tuple[Item, Article] | None:
            async with gate:
                try:
                    page = await self.fetcher.fetch(item.link)
                    await asyncio.to_thread(self.store.fetched, item, page.url)
                    article = await asyncio.to_thread(
                        parse_article,
                        page.data,
                        page.filename,
                        max_bytes=self.engine.settings.max_article_bytes,
                        defaults={"title": item.title, "date": item.published},
                        fetched_from=page.url,
                    )
                except Exception as exc:
                    await self._item_failed(item, exc, report)
                    return None
                return item, article

        found = await asyncio.gather(*(read(item) for item in items))
        return [f for f in found if f is not None]

    def _new_ones(
        self, candidates: list[tuple[Item, Article]], report: RoundReport
    ) -> list[tuple[Item, Article]]:
        """Candidates the library lacks; a page it has (the same id: the same link, or the
        link it redirected to) is skipped. A page with the same text as an article of the
        library under another link is kept, and the build links it as a copy, as `ingest`
        does: a false match must never lose an article."""
        accepted: list[tuple[Item, Article]] = []
        with self.engine.leased() as index:
            for item, article in candidates:
                if article.id in index.articles or any(a.id == article.id for _, a in accepted):
                    reason = "already in the library (the same page)"
                    self.store.skipped(item, reason)
                    report.skipped.append((item, reason))
                else:
                    accepted.append((item, article))
        return accepted

    async def _item_failed(self, item: Item, error: BaseException, report: RoundReport) -> None:
        """One item's failure: recorded as its error (tried again in a later round, up to
        `feeds.store.MAX_ATTEMPTS`); the round goes on with the others."""
        if isinstance(error, TradeTalkError):
            reason = str(error)
        else:  # a fault of ours that this item's page set off: the log has the traceback
            log.error("feed item %s failed", item.link, exc_info=error)
            reason = f"unexpected failure reading or adding it ({type(error).__name__})"
        await asyncio.to_thread(self.store.failed_item, item, reason)
        report.failed.append((item, reason))

    async def _ingest(self, accepted: list[tuple[Item, Article]], report: RoundReport) -> None:
        articles = [article for _, article in accepted]
        try:
            outcomes = await asyncio.to_thread(self.engine.ingest_articles, articles, wait=True)
        except StorageError as exc:  # the data dir takes nothing: the same for every item
            outcomes = [exc] * len(accepted)
        except Exception as exc:
            if len(accepted) == 1:
                outcomes = [exc]
            else:
                # One article broke the round's build: add them one by one, so that one is
                # its item's error and the others go in.
                log.warning("a round's build failed (%s); adding its articles one by one", exc)
                outcomes = [await self._ingest_one(article) for article in articles]
        crashpoints.reached("feed-items-ingested")
        done: list[tuple[Item, str]] = []
        for (item, _), outcome in zip(accepted, outcomes, strict=True):
            if isinstance(outcome, IngestResult):
                done.append((item, outcome.article.id))
                report.ingested.append((item, outcome.article))
            else:
                await self._item_failed(item, outcome, report)
        await asyncio.to_thread(self.store.ingested, done)

    async def _ingest_one(self, article: Article) -> IngestResult | Exception:
        try:
            (outcome,) = await asyncio.to_thread(self.engine.ingest_articles, [article], wait=True)
        except Exception as exc:
            return exc
        return outcome
