"""Moving a data dir's libraries into PostgreSQL (``tradetalk migrate --to postgres``).

Every library (the global one and each server's) is copied as it is, nothing re-embedded: its
article files (the same bytes), the segments of its current build (passages with their vectors,
postings, records) and that build, then its audit log, settings and feeds. A library already in
the database with the same articles and the same segments is left alone, so the migration can
run twice (or be resumed after a failure) safely. Each library is checked after its copy: the
articles and their sha256, and per segment the passage and sentence counts and the sha256 of
its vectors, read back from the database. The data dir is not changed."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from psycopg import Connection, sql

from config.settings import Settings
from errors import StorageError
from retrieval.segment import Segment
from retrieval.storage import generation_of
from storage.local import LocalStore
from storage.postgres.schema import NOTIFY_CHANNEL
from storage.postgres.segments import upload_segment
from storage.postgres.store import PostgresStore, _portable
from storage.tables import SqliteTables, Tables

log = logging.getLogger(__name__)


@dataclass
class LibraryMigration:
    library: str
    articles: int = 0
    segments: int = 0
    passages: int = 0
    sentences: int = 0
    copied: bool = False  # False: already in the database, left alone
    rows: dict[str, int] = field(default_factory=dict)  # small stores: rows now there
    problems: list[str] = field(default_factory=list)


def _vector_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def _segment_facts(segment: Segment) -> tuple[int, int, str, str]:
    return (
        len(segment),
        int(segment.sentence_ptr[-1]),
        _vector_digest(segment.passage_vectors),
        _vector_digest(segment.sentence_vectors),
    )


def _database_facts(conn: Connection, schema: str, segment_id: str) -> tuple[int, int, str, str]:
    """The same facts, read back from the rows."""
    passages = hashlib.sha256()
    sentences = hashlib.sha256()
    count = sentence_bytes = 0
    dimension = None
    rows = conn.execute(
        sql.SQL(
            "SELECT vector, sentence_vectors FROM {}.passages WHERE segment = %s ORDER BY row"
        ).format(sql.Identifier(schema)),
        (segment_id,),
    )
    for vector, sentence_vectors in rows:
        passages.update(vector)
        sentences.update(sentence_vectors)
        count += 1
        dimension = len(vector) // 4
        sentence_bytes += len(sentence_vectors)
    sentence_count = sentence_bytes // (4 * dimension) if dimension else 0
    return count, sentence_count, passages.hexdigest(), sentences.hexdigest()


def migrate_library(
    source: LocalStore, target: PostgresStore, result: LibraryMigration
) -> LibraryMigration:
    """Copy one library's articles and current build (see the module's docstring)."""
    index = source.builds.load(verify=True)
    files = {k: s for k, s in source.articles.scan().items() if not s.bundled}
    backend = target.backend
    schema = backend.ensure_library(target.library)
    s = sql.Identifier(schema)
    try:
        with backend.write_lock(target.library), backend.connection() as conn:
            have_articles = dict(
                conn.execute(sql.SQL("SELECT key, sha256 FROM {}.articles").format(s)).fetchall()
            )
            have_segments = {
                r[0] for r in conn.execute(sql.SQL("SELECT id FROM {}.segments").format(s))
            }
            wanted = [e.id for e in index.manifest.segments] if index is not None else []
            same = (
                have_articles == {k: f.sha256 for k, f in files.items()}
                and set(wanted) <= have_segments
            )
            current = conn.execute(
                "SELECT build FROM tradetalk.libraries WHERE id = %s", (target.library,)
            ).fetchone()
            if same and (index is None or (current and current[0])):
                log.info("library %s is in the database already", target.library)
            else:
                _copy(conn, schema, source, target, index, files, have_segments)
                result.copied = True
        _check(target, source, index, files, result)
    finally:
        if index is not None:
            index.close()
    return result


def _copy(conn, schema, source, target, index, files, have_segments) -> None:
    s = sql.Identifier(schema)
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {}.articles (key, article_id, sha256, body) VALUES "
                    "(%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET article_id = "
                    "excluded.article_id, sha256 = excluded.sha256, body = excluded.body"
                ).format(s),
                [
                    (key, source.articles.read(f).id, f.sha256, f.path.read_bytes())
                    for key, f in files.items()
                ],
            )
        if index is None:
            return
        for entry in index.manifest.segments:
            if entry.id not in have_segments:
                upload_segment(conn, schema, source.builds.segments / entry.id)
        row = conn.execute(
            "SELECT generation FROM tradetalk.libraries WHERE id = %s", (target.library,)
        ).fetchone()
        generation = int(row[0]) + 1 if row else 1
        local = index.directory.name
        name = (
            f"{generation:08d}-{local.split('-', 1)[1]}"
            if generation_of(local)
            else (f"{generation:08d}-migrated")
        )
        manifest = replace(index.manifest, generation=generation, files={})
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.builds (name, generation, manifest) VALUES (%s, %s, %s)"
            ).format(s),
            (name, generation, json.dumps(_portable(manifest), ensure_ascii=False)),
        )
        conn.execute(
            "UPDATE tradetalk.libraries SET build = %s, generation = %s WHERE id = %s",
            (name, generation, target.library),
        )
        conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, f"{target.library} {name}"))


def _check(target, source, index, files, result: LibraryMigration) -> None:
    """Counts and checksums, read back from the database."""
    schema = target.backend.ensure_library(target.library)
    s = sql.Identifier(schema)
    with target.backend.connection() as conn:
        stored = dict(
            conn.execute(sql.SQL("SELECT key, sha256 FROM {}.articles").format(s)).fetchall()
        )
        for key, f in files.items():
            if stored.get(key) != f.sha256:
                result.problems.append(f"article {key}: not in the database as it is on disk")
        body_ok = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {}.articles WHERE encode(sha256(body), 'hex') <> sha256"
            ).format(s)
        ).fetchone()[0]
        if body_ok:
            result.problems.append(f"{body_ok} stored articles fail their sha256")
        result.articles = len(files)
        if index is None:
            return
        for part in index.parts:
            segment = part.segment
            local = _segment_facts(segment)
            remote = _database_facts(conn, schema, segment.id)
            if local != remote:
                result.problems.append(
                    f"segment {segment.id}: {local[:2]} passages/sentences on disk, "
                    f"{remote[:2]} in the database, vectors "
                    f"{'equal' if local[2:] == remote[2:] else 'different'}"
                )
            result.segments += 1
            result.passages += local[0]
            result.sentences += local[1]
        served = conn.execute(
            "SELECT build FROM tradetalk.libraries WHERE id = %s", (target.library,)
        ).fetchone()
        if not served or not served[0]:
            result.problems.append("no current build in the database")


# -- the small stores ---------------------------------------------------------------------------

# Each store's table, the columns copied, and what makes a row the same one (kept once).
_ROWS = {
    "audit": ("audit", "at, actor, action, target, outcome, detail", None),
    "settings": ("server_settings", "key, value", "key"),
    "feeds": ("feeds", None, "url"),
    "items": ("items", None, "feed_url, key"),
}
_FEED_COLUMNS = (
    "url, title, channel_id, added_by, added_at, interval_s, etag, last_modified, next_poll_at, "
    "last_polled_at, last_success_at, last_error, last_error_at, failures, article_count"
)
_ITEM_COLUMNS = (
    "feed_url, key, link, title, published, position, state, article_id, fetched_url, reason, "
    "attempts, listed_at, done_at, digested"
)


def copy_rows(source: SqliteTables, target: Tables, store: str) -> dict[str, int]:
    """Copy a small store's rows; a row already there (same key, or for the audit log the same
    entry) is kept once. Returns each table's row count in the target afterwards."""
    tables = ["feeds", "items"] if store == "feeds" else [store]
    counts: dict[str, int] = {}
    if not source.exists():
        return counts
    for name in tables:
        table, columns, key = _ROWS[name]
        columns = columns or (_FEED_COLUMNS if name == "feeds" else _ITEM_COLUMNS)
        rows = source.read(f"SELECT {columns} FROM {table}")
        marks = ", ".join("?" * len(columns.split(",")))
        with target.transaction() as db:
            if key is None:  # the audit log: an entry is all of its columns
                have = {tuple(r) for r in db.execute(f"SELECT {columns} FROM {table}").fetchall()}
                rows = [r for r in rows if tuple(r) not in have]
                conflict = ""
            else:
                conflict = f" ON CONFLICT ({key}) DO NOTHING"
            if rows:
                db.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks}){conflict}",
                    [tuple(r) for r in rows],
                )
            counts[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return counts


def migrate(
    settings: Settings,
    *,
    libraries: list[int | None],
    local_store: Callable[[int | None], LocalStore],
    database_store: Callable[[int | None], PostgresStore],
    local_tables: Callable[[int | None, str], SqliteTables],
    database_tables: Callable[[int | None, str], Tables],
) -> list[LibraryMigration]:
    """Every library of `libraries` (None: the global one), each checked; raises
    `StorageError` naming every problem found, after copying what it could."""
    results = []
    for server_id in libraries:
        result = LibraryMigration("global" if server_id is None else str(server_id))
        migrate_library(local_store(server_id), database_store(server_id), result)
        for store in ("audit", "settings", "feeds"):
            if store == "settings" and server_id is None:
                continue  # the global library has no /settings
            result.rows.update(
                copy_rows(local_tables(server_id, store), database_tables(server_id, store), store)
            )
        results.append(result)
    problems = [f"{r.library}: {p}" for r in results for p in r.problems]
    if problems:
        raise StorageError("the migration found differences: " + "; ".join(problems))
    return results
