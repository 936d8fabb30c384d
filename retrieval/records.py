"""Typed records of an index and their SQLite table (passage metadata stays on disk, so a
million passages cost no Python objects until they are returned)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from corpus.articles import host_of
from corpus.outlets import outlet_label
from corpus.parsing import SentenceParse, decode_parses
from errors import IndexCorrupt

# A segment's records. Rows are the segment's own. A near-duplicate passage names the passage
# it copies by article, that article's content hash and the passage's place in it, never by
# row: rows change when segments merge, and the copy may live in another segment. An edited
# article (another hash) is no longer what its copies copied, so the link lapses.
SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, date TEXT, url TEXT,
    content_hash TEXT NOT NULL, bundled INTEGER NOT NULL, passage_count INTEGER NOT NULL,
    duplicate_of TEXT, fetched_from TEXT, claimed_source TEXT, claimed_url TEXT,
    duplicate_of_hash TEXT, first_row INTEGER NOT NULL
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL, paragraph INTEGER NOT NULL,
    part INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    sentences TEXT NOT NULL, dup_article TEXT, dup_hash TEXT, dup_ordinal INTEGER,
    parse BLOB
);
CREATE TABLE names (lower TEXT NOT NULL, surface TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (lower, surface));
"""
# "names": how the articles spell each proper name ("Lighthizer", "WTO"), counted, so a
# question typed in lower case can be read with the articles' capitals (the parser reads
# "why did trump jack up tariffs" as a sentence whose verb is "trump").


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
    # Its sentences' parses as stored (corpus.parsing.encode_parses), decoded on demand; None
    # for a passage stored without them.
    parse: bytes | None = field(default=None, repr=False, compare=False)

    def sentence_texts(self) -> list[str]:
        return [self.text[s - self.start : e - self.start] for s, e in self.sentences]

    @cached_property
    def sentence_parses(self) -> tuple[SentenceParse, ...] | None:
        """Each sentence's parse, in order; None when the passage has none stored."""
        if self.parse is None:
            return None
        return decode_parses(self.parse, self.sentence_texts())

    @property
    def id(self) -> str:
        suffix = f".{self.part + 1}" if self.part else ""
        return f"{self.article_id}#p{self.paragraph}{suffix}"


@dataclass(frozen=True)
class PassageRef:
    """A passage named by its article's id and content hash and its place in the article."""

    article_id: str
    content_hash: str
    ordinal: int


@dataclass(frozen=True)
class StoredArticle:
    """An article row of a segment: the article, where its passages start, and the version of
    the article it copies (if it is a copy)."""

    info: ArticleInfo  # duplicate_of as stored: check it against duplicate_of_hash
    duplicate_of_hash: str | None
    first_row: int


@dataclass(frozen=True)
class StoredPassage:
    record: PassageRecord  # row is the segment's own; dup_of is -1 (see `copy_of`)
    copy_of: PassageRef | None


def _sort_key(article: ArticleInfo) -> tuple:
    """SQLite's ``ORDER BY date, id``: undated first."""
    return (article.date is not None, article.date or "", article.id)


def in_catalogue_order(articles: Iterable[ArticleInfo]) -> list[ArticleInfo]:
    return sorted(articles, key=_sort_key)


def write_records(
    path: Path, articles: Iterable[StoredArticle], passages: Iterable[StoredPassage]
) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    s.info.id,
                    s.info.title,
                    s.info.source,
                    s.info.date,
                    s.info.url,
                    s.info.content_hash,
                    int(s.info.bundled),
                    s.info.passage_count,
                    s.info.duplicate_of,
                    s.info.fetched_from,
                    s.info.claimed_source,
                    s.info.claimed_url,
                    s.duplicate_of_hash,
                    s.first_row,
                )
                for s in articles
            ),
        )
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    s.record.row,
                    s.record.article_id,
                    s.record.paragraph,
                    s.record.part,
                    s.record.start,
                    s.record.end,
                    s.record.text,
                    json.dumps(s.record.sentences),
                    s.copy_of.article_id if s.copy_of else None,
                    s.copy_of.content_hash if s.copy_of else None,
                    s.copy_of.ordinal if s.copy_of else None,
                    s.record.parse,
                )
                for s in passages
            ),
        )
        db.executemany(
            "INSERT INTO names VALUES (?,?,?)",
            ((k[0], k[1], n) for k, n in _proper_names(passages).items()),
        )
    # sqlite3's context manager commits but leaves the connection open.
    db.close()


def _proper_names(passages: Iterable[StoredPassage]) -> dict[tuple[str, str], int]:
    """(lower case, spelling) -> count of the proper nouns in the passages' parses."""
    counts: dict[tuple[str, str], int] = {}
    for stored in passages:
        for parse in stored.record.sentence_parses or ():
            for i, pos in enumerate(parse.pos):
                word = parse.word(i)
                if pos == "PROPN" and word[:1].isupper() and word.isalpha():
                    key = (word.lower(), word)
                    counts[key] = counts.get(key, 0) + 1
    return counts


def copy_records(path: Path, sources: list[tuple[Path, list[tuple[int, int]]]]) -> None:
    """Write a merged segment's records: from each source segment's records file, the passages
    of the given row ranges (whole articles), renumbered in order. SQLite copies them itself
    (ATTACH, INSERT ... SELECT over rowid ranges): a merge of a million passages makes no
    Python object per row."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        offset = 0
        for number, (source, ranges) in enumerate(sources):
            db.execute(f"ATTACH DATABASE ? AS s{number}", (f"file:{source}?mode=ro",))
            for start, stop in _coalesced(ranges):
                shift = offset - start
                db.execute(
                    f"INSERT INTO passages SELECT row + ?, article_id, paragraph, part, start, "
                    f'"end", text, sentences, dup_article, dup_hash, dup_ordinal, parse '
                    f"FROM s{number}.passages WHERE row >= ? AND row < ? ORDER BY row",
                    (shift, start, stop),
                )
                db.execute(
                    f"INSERT INTO articles SELECT id, title, source, date, url, content_hash, "
                    f"bundled, passage_count, duplicate_of, fetched_from, claimed_source, "
                    f"claimed_url, duplicate_of_hash, first_row + ? FROM s{number}.articles "
                    f"WHERE first_row >= ? AND first_row < ?",
                    (shift, start, stop),
                )
                offset += stop - start
            db.execute(
                f"INSERT INTO names SELECT lower, surface, n FROM s{number}.names WHERE true "
                f"ON CONFLICT (lower, surface) DO UPDATE SET n = n + excluded.n"
            )
            db.commit()
            db.execute(f"DETACH DATABASE s{number}")
    db.close()


def _coalesced(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], stop)
        elif stop > start:
            out.append((start, stop))
    return out


def _article(row: tuple) -> StoredArticle:
    source = row[2]
    if row[9] and row[10]:
        # A fetched page's outlet as citations show it now, also in builds stored before
        # that wording changed (the stored label is derived; host and claim are the facts).
        source = outlet_label(host_of(row[9]) or "unknown host", row[10])
    info = ArticleInfo(
        id=row[0],
        title=row[1],
        source=source,
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
    return StoredArticle(info, row[12], row[13])


def _passage(row: tuple) -> StoredPassage:
    record = PassageRecord(
        row=row[0],
        article_id=row[1],
        paragraph=row[2],
        part=row[3],
        start=row[4],
        end=row[5],
        text=row[6],
        sentences=tuple(tuple(s) for s in json.loads(row[7])),
        dup_of=-1,
        parse=row[11],
    )
    ref = PassageRef(row[8], row[9], row[10]) if row[8] is not None else None
    return StoredPassage(record, ref)


class RecordStore:
    """Read-only access to one segment's records, safe to share between threads."""

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

    def articles(self) -> list[StoredArticle]:
        """In catalogue order (date, then id)."""
        try:
            with self._lock:
                rows = self._db.execute("SELECT * FROM articles ORDER BY date, id").fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt("cannot read the article records") from exc
        return [_article(row) for row in rows]

    def passages(self, rows: list[int]) -> dict[int, StoredPassage]:
        """The segment's passages at `rows` (its own row numbers)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM passages WHERE row IN ({marks})", [int(r) for r in rows]
            ).fetchall()
        return {row[0]: _passage(row) for row in found}

    def spellings(self, words: Iterable[str]) -> dict[str, dict[str, int]]:
        """For each lower-case word, the proper-noun spellings of it in this segment, counted."""
        words = list(dict.fromkeys(words))
        if not words:
            return {}
        marks = ",".join("?" * len(words))
        with self._lock:
            rows = self._db.execute(
                f"SELECT lower, surface, n FROM names WHERE lower IN ({marks})", words
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for lower, surface, n in rows:
            out.setdefault(lower, {})[surface] = n
        return out

    def iter_passages(self) -> Iterator[StoredPassage]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM passages ORDER BY row").fetchall()
        for row in rows:
            yield _passage(row)
