"""One library in PostgreSQL, served from this host's cache.

The database holds the library: its articles (the stored Markdown, byte for byte), its
segments (passages with their vectors and their sentences' vectors, per-sentence annotation,
the BM25 postings), its builds, and which build is current (``tradetalk.libraries``). This
host's cache (`IndexStorage` under ``TRADETALK_CACHE_DIR``) holds the segments and builds it
serves, written from those rows; it may be deleted at any time.

A write takes the library's advisory lock (every host), writes its new segment into the cache,
then publishes in ONE transaction: the segment's rows, the articles saved or deleted, the new
build, the library's current build and generation (checked to be the one the write started
from), and a NOTIFY. A host killed at any moment before the commit leaves nothing in the
database; after it, everything. Other hosts hear the NOTIFY (or find the new generation in the
check before their next question) and fetch the new segment into their cache."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from psycopg import Connection, sql

from corpus.articles import Article, parse_article
from corpus.library import ArticleLibrary, SourceFile
from errors import ArticleError, IndexBusy, IndexCorrupt
from retrieval import crashpoints
from retrieval.build import SourcedArticle
from retrieval.manifest import Manifest, SegmentEntry, read_segment_manifest
from retrieval.storage import KEEP_PREVIOUS, IndexStorage, generation_of
from storage.base import ArticleSources, LibraryStore, Staging
from storage.postgres.backend import PostgresBackend
from storage.postgres.schema import NOTIFY_CHANNEL
from storage.postgres.segments import download_segment, upload_segment

log = logging.getLogger(__name__)
CHECK_REUSE_SECONDS = 0.02  # one generation check serves the reads of one answer


@dataclass
class _Pending:
    """The article changes of the write in progress, committed with its build."""

    saves: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # key -> id, sha, body
    deletes: set[str] = field(default_factory=set)


class DatabaseStaging(Staging):
    def __init__(self, articles: DatabaseArticles, pending: _Pending) -> None:
        self.articles = articles
        self.pending = pending

    def save(self, article: Article, replacing: Sequence[str] = ()) -> SourcedArticle:
        name = f"{article.id}.md"
        key = f"added/{name}"
        body = article.to_markdown().encode("utf-8")
        # What is indexed is the stored form, read back as a stored file is (its id trusted).
        stored = parse_article(body, name, max_bytes=self.articles.max_bytes, stored=True)
        self.pending.deletes.update(k for k in replacing if k != key)
        self.pending.deletes.discard(key)
        digest = hashlib.sha256(body).hexdigest()
        self.pending.saves[key] = (article.id, digest, body)
        return SourcedArticle(key, digest, stored)

    def delete(self, article_id: str, keys: Sequence[str]) -> None:
        for key in keys or [f"added/{article_id}.md"]:
            self.pending.saves.pop(key, None)
            self.pending.deletes.add(key)


class DatabaseArticles(ArticleSources):
    """The bundled corpus (files shipped with the code, for the global library) and the
    articles rows of the library's schema."""

    def __init__(self, store: PostgresStore, bundled_dir: Path | None, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.bundled = ArticleLibrary(
            Path(os.devnull) / "none", max_bytes=max_bytes, bundled_dir=bundled_dir
        )

    def scan(self) -> dict[str, SourceFile]:
        found = self.bundled.scan()
        schema = self.store.schema_if_any()
        if schema is None:
            return found

        def query(conn: Connection) -> list[tuple[str, str]]:
            return conn.execute(
                sql.SQL("SELECT key, sha256 FROM {}.articles ORDER BY key").format(
                    sql.Identifier(schema)
                )
            ).fetchall()

        for key, digest in self.store.backend.read(query):
            found[key] = SourceFile(key, Path(key), digest, False)
        return found

    def read(self, source: SourceFile) -> Article:
        if source.bundled:
            return self.bundled.read(source)
        schema = self.store.schema_if_any()

        def query(conn: Connection) -> bytes | None:
            row = conn.execute(
                sql.SQL("SELECT body FROM {}.articles WHERE key = %s").format(
                    sql.Identifier(schema or "")
                ),
                (source.key,),
            ).fetchone()
            return bytes(row[0]) if row else None

        body = self.store.backend.read(query) if schema else None
        if body is None:
            raise ArticleError(f"{source.key}: no longer in the database")
        return parse_article(
            body, source.key.partition("/")[2], max_bytes=self.max_bytes, stored=True
        )

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        pending = _Pending()
        self.store.pending = pending
        try:
            yield DatabaseStaging(self, pending)
        finally:
            self.store.pending = None  # committed with the build, or dropped with the error


class PostgresStore(LibraryStore):
    def __init__(
        self,
        backend: PostgresBackend,
        library: str,
        cache_root: Path,
        *,
        bundled_dir: Path | None,
        max_bytes: int,
        follow: bool = True,
    ) -> None:
        """`follow`: act on other hosts' NOTIFYs (a store only asked whether the library
        exists does not)."""
        self.backend = backend
        self.library = library
        self.pending: _Pending | None = None
        self._base_generation = 0
        self.builds = IndexStorage(
            cache_root / library / "index",
            next_generation=self._next_generation,
            before_switch=self._commit,
        )
        self.articles = DatabaseArticles(self, bundled_dir, max_bytes)
        self.heard: str | None = None  # the last build a NOTIFY named
        self._checked: tuple[float, str | None] | None = None  # (when, what) of the last check
        self._prefetching = threading.Lock()
        self._cache_lock = threading.RLock()
        self._cache_depth = 0
        self._cache_handle: Any = None
        self._follow = follow
        if follow:
            backend.subscribe(library, self._notified)

    # -- the interface ------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        self.backend.ensure_library(self.library)
        # Every host's writers, then this host's processes sharing the cache; and no fetch
        # into the cache meanwhile (a prefetch would switch it under the writer).
        with (
            self.backend.write_lock(self.library, wait=wait),
            self.builds.lock(wait=wait),
            self._cache(),
        ):
            self._checked = None  # a write starts from what the database holds now
            yield

    @contextlib.contextmanager
    def _cache(self, *, wait: bool = True) -> Iterator[bool]:
        """This host's cache to ourselves: no other thread here, and no other process sharing
        the cache directory, switches or prunes it meanwhile. Re-entrant in one thread. Yields
        False at once if taken and not `wait`."""
        if not self._cache_lock.acquire(blocking=wait):
            yield False
            return
        try:
            if self._cache_depth == 0:
                self.builds.root.mkdir(parents=True, exist_ok=True)
                handle = open(self.builds.root / ".cache.lock", "a")  # noqa: SIM115
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    handle.close()
                    yield False
                    return
                self._cache_handle = handle
            self._cache_depth += 1
            try:
                yield True
            finally:
                self._cache_depth -= 1
                if self._cache_depth == 0 and self._cache_handle is not None:
                    fcntl.flock(self._cache_handle, fcntl.LOCK_UN)
                    self._cache_handle.close()
                    self._cache_handle = None
        finally:
            self._cache_lock.release()

    @contextlib.contextmanager
    def merge_lock(self) -> Iterator[bool]:
        self.backend.ensure_library(self.library)
        with (
            self.backend.advisory(self.library, "merge", wait=False) as ours,
            self.builds.merge_lock() as here,
        ):
            yield ours and here

    def current_name(self) -> str | None:
        """The generation check. An answer reads the served build several times (its years,
        its search, its coverage): one query serves them all, and any answer asked a moment
        later (`CHECK_REUSE_SECONDS`) asks again."""
        now = time.monotonic()
        checked = self._checked
        if checked is not None and now - checked[0] < CHECK_REUSE_SECONDS:
            return checked[1]
        name = self.backend.current_build(self.library)
        self._checked = (now, name)
        return name

    def refresh(self) -> None:
        """Bring the cache to the database's current build: fetch the segments this host lacks
        and make the build current here (under its own name)."""
        name = self.current_name()
        if name is None or self.builds.current_name() == name:
            return
        # One fetch at a time into this cache (a second one waits, then finds it done).
        with self._cache():
            self._fetch(name)

    def _fetch(self, name: str) -> None:
        if self.builds.current_name() == name:
            return
        schema = self.backend.ensure_library(self.library)

        def query(conn: Connection) -> dict | None:
            row = conn.execute(
                sql.SQL("SELECT manifest FROM {}.builds WHERE name = %s").format(
                    sql.Identifier(schema)
                ),
                (name,),
            ).fetchone()
            return row[0] if row else None

        data = self.backend.read(query)
        if data is None:
            return  # superseded and pruned meanwhile: the next check finds the newer one
        manifest = _manifest(data)
        entries = []
        for entry in manifest.segments:
            directory = self.builds.segments / entry.id
            if not (directory / "segment.json").is_file():
                try:
                    self.backend.read(
                        lambda conn, e=entry: download_segment(
                            conn, schema, e.id, self.builds.segments
                        )
                    )
                except LookupError:
                    raise IndexCorrupt(
                        f"segment {entry.id} of build {name} is not in the database"
                    ) from None
            _, digest = read_segment_manifest(directory)
            entries.append(replace(entry, sha256=digest))
        self.builds.adopt(name, replace(manifest, segments=tuple(entries)))
        log.info("fetched build %s of library %s into the cache", name, self.library)

    def schema_if_any(self) -> str | None:
        """The library's schema if the database has it (reading creates nothing)."""
        if self.library in self.backend._libraries:
            return self.backend.ensure_library(self.library)

        def query(conn: Connection) -> str | None:
            if not self.backend._has_shared(conn):
                return None
            row = conn.execute(
                "SELECT schema_name FROM tradetalk.libraries WHERE id = %s", (self.library,)
            ).fetchone()
            return row[0] if row else None

        found = self.backend.read(query)
        if found is not None:
            self.backend.ensure_library(self.library)  # created tables, remembered
        return found

    def has_articles(self) -> bool:
        schema = self.schema_if_any()
        if schema is None:
            return False
        if self.current_name() is not None:
            return True

        def query(conn: Connection) -> bool:
            row = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.articles)").format(sql.Identifier(schema))
            ).fetchone()
            return bool(row and row[0])

        return self.backend.read(query)

    def exists(self) -> bool:
        return self.schema_if_any() is not None

    def close(self) -> None:
        if self._follow:
            self.backend.unsubscribe(self.library, self._notified)

    def purge(self) -> tuple[int, int]:
        """Delete the library (every table of its schema: articles, index, audit log, settings,
        feeds) in one transaction, and this host's cache of it. Waits for no writer: `IndexBusy`
        if one holds the lock. Returns (its articles, its bytes) as they were."""
        schema = self.schema_if_any()
        if schema is None:
            return 0, 0
        articles, size = self.summary()
        with (
            self.backend.write_lock(self.library, wait=False),
            self.backend.connection() as conn,
            conn.transaction(),
        ):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            conn.execute("DELETE FROM tradetalk.libraries WHERE id = %s", (self.library,))
            conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, f"{self.library} -"))
        self.backend.forget_library(self.library)
        shutil.rmtree(self.builds.root.parent, ignore_errors=True)
        return articles, size

    def summary(self) -> tuple[int, int]:
        """(articles in the current build, bytes the library's tables take)."""
        schema = self.schema_if_any()
        if schema is None:
            return 0, 0

        def query(conn: Connection) -> tuple[int, int]:
            row = conn.execute(
                sql.SQL(
                    "SELECT (SELECT (b.manifest ->> 'article_count')::int FROM {0}.builds b "
                    "JOIN tradetalk.libraries l ON l.build = b.name WHERE l.id = %s), "
                    "(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                    "AND c.relkind = 'r')"
                ).format(sql.Identifier(schema)),
                (self.library, schema),
            ).fetchone()
            return int(row[0] or 0), int(row[1] or 0)

        return self.backend.read(query)

    # -- hearing of other hosts' builds --------------------------------------------------------

    def _notified(self, name: str) -> None:
        """Another host (or this one) published `name`: fetch it into the cache now, in the
        background, so the next question here finds it ready."""
        self.heard = name
        if self.builds.current_name() == name or not self.builds.current_link.is_symlink():
            return  # already here, or this library was never served here: nothing to warm
        threading.Thread(target=self._prefetch, name="tradetalk-prefetch", daemon=True).start()

    def _prefetch(self) -> None:
        if not self._prefetching.acquire(blocking=False):
            return
        try:
            with self._cache(wait=False) as free:
                if free:  # else a write here holds the cache: it publishes, or a question fetches
                    self.refresh()
        except Exception:
            log.warning("could not prefetch a build of library %s", self.library, exc_info=True)
        finally:
            self._prefetching.release()

    # -- publishing ---------------------------------------------------------------------------

    def _next_generation(self) -> int:
        def query(conn: Connection) -> int:
            row = conn.execute(
                "SELECT generation FROM tradetalk.libraries WHERE id = %s", (self.library,)
            ).fetchone()
            return int(row[0]) if row else 0

        self._base_generation = self.backend.read(query)
        return self._base_generation + 1

    def _commit(self, directory: Path, manifest: Manifest) -> None:
        """Publish the build written in `directory` (called before this cache switches to it):
        one transaction, or nothing."""
        schema = self.backend.ensure_library(self.library)
        name = directory.name
        generation = generation_of(name)
        s = sql.Identifier(schema)
        pending = self.pending or _Pending()
        with self.backend.connection() as conn, conn.transaction():
            listed = [e.id for e in manifest.segments]
            have = {
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT id FROM {}.segments WHERE id = ANY(%s)").format(s), (listed,)
                )
            }
            for segment_id in listed:
                if segment_id not in have:
                    upload_segment(conn, schema, self.builds.segments / segment_id)
            if pending.deletes:
                conn.execute(
                    sql.SQL("DELETE FROM {}.articles WHERE key = ANY(%s)").format(s),
                    (sorted(pending.deletes),),
                )
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL(
                        "INSERT INTO {}.articles (key, article_id, sha256, body) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                        "article_id = excluded.article_id, sha256 = excluded.sha256, "
                        "body = excluded.body, saved_at = now()"
                    ).format(s),
                    [(k, a, d, b) for k, (a, d, b) in pending.saves.items()],
                )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.builds (name, generation, manifest) VALUES (%s, %s, %s)"
                ).format(s),
                (name, generation, json.dumps(_portable(manifest), ensure_ascii=False)),
            )
            moved = conn.execute(
                "UPDATE tradetalk.libraries SET build = %s, generation = %s "
                "WHERE id = %s AND generation = %s",
                (name, generation, self.library, generation - 1),
            ).rowcount
            if moved != 1:
                # The lock was lost (the database restarted mid-write) and another host wrote.
                raise IndexBusy("another host changed this library meanwhile; try again")
            # Older builds than the ones worth keeping, and segments no kept build lists.
            conn.execute(
                sql.SQL("DELETE FROM {}.builds WHERE generation < %s").format(s),
                (generation - KEEP_PREVIOUS,),
            )
            conn.execute(
                sql.SQL(
                    "DELETE FROM {0}.segments g WHERE NOT EXISTS (SELECT 1 FROM {0}.builds b, "
                    "jsonb_array_elements(b.manifest -> 'segments') e WHERE e ->> 'id' = g.id)"
                ).format(s)
            )
            conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, f"{self.library} {name}"))
            crashpoints.reached("database-commit")
        self.pending = None
        self._checked = (time.monotonic(), name)


def _portable(manifest: Manifest) -> dict:
    """A build's manifest as every host reads it: segment digests are this host's files'."""
    return asdict(manifest)


def _manifest(data: dict) -> Manifest:
    data = dict(data)
    segments = tuple(
        SegmentEntry(str(e["id"]), str(e["sha256"]), tuple(e.get("removed", ())))
        for e in data.pop("segments", ())
    )
    return Manifest(**data, segments=segments)
