"""`FeedStore(data_dir)`: the followed feeds of one library and every item they listed, in
SQLite (``DATA_DIR/feeds.sqlite3``), so it all survives restarts.

An item goes ``pending`` (listed by its feed, not yet taken) -> ``claimed`` (taken by a round,
committed before its page is fetched) -> ``ingested`` (with the article id, once the build
holding it is published) or ``skipped`` (already in the library: the same link; the same text
under another link is ingested and linked as a copy) or back to ``pending`` after a failure,
until it has failed `MAX_ATTEMPTS` times (``failed``). An item found ``claimed`` when a round
starts belongs to a round that died (rounds hold a lock, see `poll.py`): it is ``ingested`` if
the library has its page, else ``pending`` again, or ``failed`` once `MAX_ATTEMPTS` rounds died
holding it (a page that kills the process must not kill every round after). So a kill at any
moment neither loses an item nor ingests one twice.

Calls are short and synchronous; the bot makes them from worker threads, like engine calls.
One library's store: a library per Discord server gets a store per server."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from errors import FeedError
from tenancy.layout import FEEDS_FILE

FILE_NAME = FEEDS_FILE  # in the library's directory: the data dir, or a server's part of it
MAX_ATTEMPTS = 3
MAX_BACKOFF_SECONDS = 6 * 3600
JITTER = 0.1  # each next poll moves by up to ±10%, so feeds followed together spread out
MAX_ERROR_CHARS = 300
DIED = f"every round that took it stopped before it was added ({MAX_ATTEMPTS} times)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    channel_id INTEGER,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    interval_s REAL NOT NULL,
    etag TEXT,
    last_modified TEXT,
    next_poll_at REAL NOT NULL,
    last_polled_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    article_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    feed_url TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    key TEXT NOT NULL,
    link TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    article_id TEXT,
    fetched_url TEXT,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    listed_at TEXT NOT NULL,
    done_at TEXT,
    digested INTEGER NOT NULL DEFAULT 0,
    UNIQUE (feed_url, key)
);
CREATE INDEX IF NOT EXISTS items_link ON items(link);
CREATE INDEX IF NOT EXISTS items_state ON items(feed_url, state);
"""


def _iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Feed:
    url: str
    title: str | None
    channel_id: int | None  # where its digests go (None: no channel, e.g. followed from the CLI)
    added_by: str
    added_at: str
    interval_s: float
    etag: str | None
    last_modified: str | None
    next_poll_at: float
    last_polled_at: str | None
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    article_count: int
    pending: int = 0  # items listed, not yet taken (the per-round cap leaves them for later)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed document."""

    key: str  # its id (guid), else its link
    link: str
    title: str
    published: str | None  # ISO date, if the feed gives one


@dataclass(frozen=True)
class Item:
    id: int
    feed_url: str
    key: str
    link: str
    title: str
    published: str | None
    state: str
    article_id: str | None
    fetched_url: str | None
    attempts: int


_FEED_COLUMNS = (
    "url, title, channel_id, added_by, added_at, interval_s, etag, last_modified, next_poll_at, "
    "last_polled_at, last_success_at, last_error, last_error_at, failures, article_count"
)
_ITEM_COLUMNS = (
    "id, feed_url, key, link, title, published, state, article_id, fetched_url, attempts"
)


class FeedStore:
    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        import time

        self.path = data_dir / FILE_NAME
        self._clock = clock or time.time
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def now(self) -> float:
        return self._clock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection, shared by threads under our lock; another process (cron's
            # `tradetalk poll`) waits up to 30 s for a write to finish.
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _write(self, sql: str, args: Sequence = ()) -> sqlite3.Cursor:
        with self._lock:
            db = self._conn()
            with db:
                return db.execute(sql, args)

    def _read(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            if self._db is None and not self.path.exists():
                return []  # nothing followed here: reading creates nothing (nor its folder)
            return self._conn().execute(sql, args).fetchall()

    # -- feeds ------------------------------------------------------------------------------

    def follow(
        self, url: str, *, added_by: str, channel_id: int | None = None, interval_s: float
    ) -> tuple[Feed, bool]:
        """Follow `url` (polled at once, then every `interval_s`); following it again changes
        its channel and interval. Returns the feed and whether it is new."""
        now = self.now()
        with self._lock:
            db = self._conn()
            with db:
                existing = db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone()
                if existing:
                    db.execute(
                        "UPDATE feeds SET channel_id = coalesce(?, channel_id), interval_s = ? "
                        "WHERE url = ?",
                        (channel_id, interval_s, url),
                    )
                else:
                    db.execute(
                        "INSERT INTO feeds (url, channel_id, added_by, added_at, interval_s, "
                        "next_poll_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (url, channel_id, added_by, _iso(now), interval_s, now),
                    )
        return self.feed(url), not existing

    def unfollow(self, url: str) -> Feed:
        """Stop following `url`; its articles stay in the library. Raises `FeedError`."""
        feed = self.feed(url)
        self._write("DELETE FROM feeds WHERE url = ?", (feed.url,))
        return feed

    def feed(self, url: str) -> Feed:
        rows = self._feeds("WHERE f.url = ?", (url,))
        if not rows:
            raise FeedError(f"{url} is not followed (see the list of feeds)")
        return rows[0]

    def feeds(self) -> list[Feed]:
        return self._feeds("ORDER BY f.added_at, f.url", ())

    def _feeds(self, where: str, args: Sequence) -> list[Feed]:
        columns = ", ".join(f"f.{c.strip()}" for c in _FEED_COLUMNS.split(","))
        rows = self._read(
            f"SELECT {columns}, (SELECT count(*) FROM items i WHERE i.feed_url = f.url AND "
            f"i.state = 'pending') FROM feeds f {where}",
            args,
        )
        return [Feed(*row) for row in rows]

    def has_work(self) -> bool:
        """Is there anything for a round to do: a feed due, items waiting or left claimed, or
        articles added whose digest has not gone to its channel yet? (One cheap query, so a
        loop over many servers' stores skips the idle ones without loading their library.)"""
        row = self._read(
            "SELECT EXISTS (SELECT 1 FROM feeds WHERE next_poll_at <= ?) OR EXISTS (SELECT 1 "
            "FROM items WHERE state IN ('pending', 'claimed')) OR EXISTS (SELECT 1 FROM items i "
            "JOIN feeds f ON f.url = i.feed_url WHERE i.state = 'ingested' AND i.digested = 0 "
            "AND f.channel_id IS NOT NULL)",
            (self.now(),),
        )
        return bool(row and row[0][0])  # no store yet: nothing to do

    def due(self, *, every: bool = False) -> list[Feed]:
        """Feeds whose next poll time has come (all of them with `every`)."""
        feeds = self.feeds()
        now = self.now()
        return [f for f in feeds if every or f.next_poll_at <= now]

    def _next_poll(self, seconds: float) -> float:
        return self.now() + seconds * (1 + self._rng.uniform(-JITTER, JITTER))

    def polled(
        self,
        url: str,
        *,
        title: str | None,
        etag: str | None,
        last_modified: str | None,
        not_modified: bool,
    ) -> None:
        """A successful poll (a new document, or "not modified")."""
        now = self.now()
        with self._lock:
            db = self._conn()
            with db:
                row = db.execute("SELECT interval_s FROM feeds WHERE url = ?", (url,)).fetchone()
                if row is None:
                    return  # unfollowed meanwhile
                db.execute(
                    "UPDATE feeds SET title = coalesce(?, title), etag = ?, last_modified = ?, "
                    "last_polled_at = ?, last_success_at = ?, failures = 0, next_poll_at = ? "
                    "WHERE url = ?",
                    (
                        None if not_modified else title,
                        etag,
                        last_modified,
                        _iso(now),
                        _iso(now),
                        self._next_poll(row[0]),
                        url,
                    ),
                )

    def failed(self, url: str, error: str) -> None:
        """A failed poll: recorded, and the next one put off twice as long each time in a row
        (up to six hours)."""
        now = self.now()
        with self._lock:
            db = self._conn()
            with db:
                row = db.execute(
                    "SELECT interval_s, failures FROM feeds WHERE url = ?", (url,)
                ).fetchone()
                if row is None:
                    return
                interval, failures = row
                wait = min(interval * 2 ** (failures + 1), MAX_BACKOFF_SECONDS)
                db.execute(
                    "UPDATE feeds SET last_polled_at = ?, last_error = ?, last_error_at = ?, "
                    "failures = failures + 1, next_poll_at = ? WHERE url = ?",
                    (_iso(now), error[:MAX_ERROR_CHARS], _iso(now), self._next_poll(wait), url),
                )

    # -- items ------------------------------------------------------------------------------

    def list_entries(
        self, url: str, entries: Sequence[FeedEntry], known: Callable[[str], bool]
    ) -> int:
        """Record the items of a feed document it had not listed before; those whose link the
        library already has (`known`), or another item has, are ``skipped`` at once. The
        number of new items waiting."""
        now = _iso(self.now())
        waiting = 0
        with self._lock:
            db = self._conn()
            with db:
                if db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is None:
                    return 0
                listed = {
                    r[0] for r in db.execute("SELECT key FROM items WHERE feed_url = ?", (url,))
                }
                for position, entry in enumerate(entries):
                    if entry.key in listed:
                        continue
                    listed.add(entry.key)
                    # Another feed's item with this link, waiting or done, is this one.
                    seen = (
                        known(entry.link)
                        or db.execute(
                            "SELECT 1 FROM items WHERE (link = ? OR fetched_url = ?) AND state != "
                            "'failed'",
                            (entry.link, entry.link),
                        ).fetchone()
                    )
                    state = "skipped" if seen else "pending"
                    reason = "already in the library" if seen else None
                    waiting += not seen
                    db.execute(
                        "INSERT INTO items (feed_url, key, link, title, published, position, "
                        "state, reason, listed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            url,
                            entry.key,
                            entry.link,
                            entry.title[:500],
                            entry.published,
                            position,
                            state,
                            reason,
                            now,
                        ),
                    )
        return waiting

    def claim(self, url: str, limit: int) -> list[Item]:
        """Take up to `limit` waiting items of a feed, newest first, committed as ``claimed``
        before anything is fetched."""
        with self._lock:
            db = self._conn()
            with db:
                rows = db.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM items WHERE feed_url = ? AND state = 'pending' "
                    "ORDER BY coalesce(published, '') DESC, position LIMIT ?",
                    (url, limit),
                ).fetchall()
                db.executemany(
                    "UPDATE items SET state = 'claimed', attempts = attempts + 1 WHERE id = ?",
                    [(r[0],) for r in rows],
                )
        return [Item(*r[:6], "claimed", *r[7:]) for r in rows]

    def fetched(self, item: Item, fetched_url: str) -> None:
        """Where the item's page was fetched from (its link after redirects): what the
        article's id derives from, so a round that dies later finds it in the library."""
        self._write("UPDATE items SET fetched_url = ? WHERE id = ?", (fetched_url, item.id))

    def ingested(self, done: Iterable[tuple[Item, str]]) -> None:
        """Items whose articles are in a published build: (item, article id)."""
        now = _iso(self.now())
        with self._lock:
            db = self._conn()
            with db:
                for item, article_id in done:
                    updated = db.execute(
                        "UPDATE items SET state = 'ingested', article_id = ?, done_at = ?, "
                        "reason = NULL WHERE id = ? AND state = 'claimed'",
                        (article_id, now, item.id),
                    ).rowcount
                    if updated:
                        db.execute(
                            "UPDATE feeds SET article_count = article_count + 1 WHERE url = ?",
                            (item.feed_url,),
                        )

    def skipped(self, item: Item, reason: str) -> None:
        self._write(
            "UPDATE items SET state = 'skipped', reason = ?, done_at = ? WHERE id = ?",
            (reason[:MAX_ERROR_CHARS], _iso(self.now()), item.id),
        )

    def failed_item(self, item: Item, reason: str) -> None:
        """The item's page could not be fetched or read: waiting again, unless that was its
        last attempt."""
        self._write(
            "UPDATE items SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END, "
            "reason = ?, done_at = ? WHERE id = ?",
            (MAX_ATTEMPTS, reason[:MAX_ERROR_CHARS], _iso(self.now()), item.id),
        )

    def recover(self, in_library: Callable[[Item], str | None]) -> tuple[int, int]:
        """Items a dead round left ``claimed``: ``ingested`` if the library has them (the id
        `in_library` gives), else waiting again. Call holding the round lock. Returns (found
        in the library, put back)."""
        rows = self._read(f"SELECT {_ITEM_COLUMNS} FROM items WHERE state = 'claimed'")
        items = [Item(*r) for r in rows]
        where = {item.id: in_library(item) for item in items}
        found = [(item, where[item.id]) for item in items if where[item.id]]
        self.ingested(found)  # type: ignore[arg-type]
        back = [item for item in items if not where[item.id]]
        # An item whose every round died (a page that kills the process) is given up after
        # `MAX_ATTEMPTS`, as a failing one is, instead of killing every round after.
        with self._lock:
            db = self._conn()
            with db:
                db.executemany(
                    "UPDATE items SET state = 'pending' WHERE id = ? AND state = 'claimed'",
                    [(item.id,) for item in back if item.attempts < MAX_ATTEMPTS],
                )
                db.executemany(
                    "UPDATE items SET state = 'failed', reason = ?, done_at = ? WHERE id = ? "
                    "AND state = 'claimed'",
                    [(DIED, _iso(self.now()), i.id) for i in back if i.attempts >= MAX_ATTEMPTS],
                )
        return len(found), len(back)

    def items(self, url: str | None = None) -> list[Item]:
        where, args = ("WHERE feed_url = ?", (url,)) if url else ("", ())
        return [Item(*r) for r in self._read(f"SELECT {_ITEM_COLUMNS} FROM items {where}", args)]

    # -- digests ----------------------------------------------------------------------------

    def undigested(self) -> list[tuple[Item, int | None]]:
        """Items ingested and not yet in a digest, with their feed's channel."""
        columns = ", ".join(f"i.{c.strip()}" for c in _ITEM_COLUMNS.split(","))
        rows = self._read(
            f"SELECT {columns}, f.channel_id FROM items i JOIN feeds f ON f.url = i.feed_url "
            "WHERE i.state = 'ingested' AND i.digested = 0 ORDER BY i.done_at, i.id"
        )
        return [(Item(*r[:-1]), r[-1]) for r in rows]

    def digested(self, items: Iterable[Item]) -> None:
        with self._lock:
            db = self._conn()
            with db:
                db.executemany(
                    "UPDATE items SET digested = 1 WHERE id = ?", [(i.id,) for i in items]
                )
