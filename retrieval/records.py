"""Typed records of an index and their SQLite table (passage metadata stays on disk, so a
million passages cost no Python objects until they are returned)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from errors import IndexCorrupt

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, date TEXT, url TEXT,
    content_hash TEXT NOT NULL, bundled INTEGER NOT NULL, passage_count INTEGER NOT NULL,
    duplicate_of TEXT, fetched_from TEXT, claimed_source TEXT, claimed_url TEXT
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL, paragraph INTEGER NOT NULL,
    part INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    sentences TEXT NOT NULL, dup_of INTEGER NOT NULL
);
CREATE INDEX passages_article ON passages(article_id);
"""


@dataclass(frozen=True)
class ArticleInfo:
    """What an answer needs to cite an article."""

    id: str
    title: str
    source: str
    date: str | None  # ISO date
    url: str | None
    content_hash: str
    bundled: bool
    passage_count: int
    duplicate_of: str | None
    fetched_from: str | None = None  # the URL TradeTalk fetched it from (its identity)
    claimed_source: str | None = None  # what a fetched page says its outlet is (a claim)
    claimed_url: str | None = None  # what a fetched page says its URL is (a claim)
    # Which library an answer found it in ("server" or "global"), set when a Discord server's
    # own library and the global one are searched together (retrieval.multi_search); None in
    # a library searched on its own. Not stored: a build knows nothing of the others.
    library: str | None = None


@dataclass(frozen=True)
class PassageRecord:
    row: int
    article_id: str
    paragraph: int
    part: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # offsets into the article text
    dup_of: int  # row of the passage this one near-duplicates, or -1

    def sentence_texts(self) -> list[str]:
        return [self.text[s - self.start : e - self.start] for s, e in self.sentences]

    @property
    def id(self) -> str:
        suffix = f".{self.part + 1}" if self.part else ""
        return f"{self.article_id}#p{self.paragraph}{suffix}"


def write_records(
    path: Path, articles: Iterable[ArticleInfo], passages: Iterable[PassageRecord]
) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    a.id,
                    a.title,
                    a.source,
                    a.date,
                    a.url,
                    a.content_hash,
                    int(a.bundled),
                    a.passage_count,
                    a.duplicate_of,
                    a.fetched_from,
                    a.claimed_source,
                    a.claimed_url,
                )
                for a in articles
            ),
        )
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    p.row,
                    p.article_id,
                    p.paragraph,
                    p.part,
                    p.start,
                    p.end,
                    p.text,
                    json.dumps(p.sentences),
                    p.dup_of,
                )
                for p in passages
            ),
        )
    # sqlite3's context manager commits but leaves the connection open.
    db.close()


def _article(row: tuple) -> ArticleInfo:
    return ArticleInfo(
        id=row[0],
        title=row[1],
        source=row[2],
        date=row[3],
        url=row[4],
        content_hash=row[5],
        bundled=bool(row[6]),
        passage_count=row[7],
        duplicate_of=row[8],
        fetched_from=row[9],
        claimed_source=row[10],
        claimed_url=row[11],
    )


def _passage(row: tuple) -> PassageRecord:
    return PassageRecord(
        row=row[0],
        article_id=row[1],
        paragraph=row[2],
        part=row[3],
        start=row[4],
        end=row[5],
        text=row[6],
        sentences=tuple(tuple(s) for s in json.loads(row[7])),
        dup_of=row[8],
    )


class RecordStore:
    """Read-only access to one build's records, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            self._db.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"cannot read passage records {path.name}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def articles(self) -> dict[str, ArticleInfo]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM articles ORDER BY date, id").fetchall()
        return {row[0]: _article(row) for row in rows}

    def passages(self, rows: list[int]) -> dict[int, PassageRecord]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM passages WHERE row IN ({marks})", [int(r) for r in rows]
            ).fetchall()
        return {row[0]: _passage(row) for row in found}

    def iter_passages(self) -> Iterator[PassageRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM passages ORDER BY row").fetchall()
        for row in rows:
            yield _passage(row)
