"""A segment's rows up to the database, and down into a host's cache.

Up: the records, vectors and extra files of a segment just written on this host (by an ingest
or a merge) become rows of its library's schema, in the transaction that publishes the build
listing it. Down: a segment this host lacks is written from those rows into the cache as any
segment is written (`retrieval.segment.write_segment`: vector index, files, ``segment.json``
last, renamed into place), so nothing is embedded again."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from psycopg import Connection, sql

from retrieval.lexical import Postings
from retrieval.records import ArticleInfo, PassageRecord, PassageRef, StoredArticle, StoredPassage
from retrieval.segment import BM25_DIR, KNOWN_FILES, Segment, SegmentContent, write_segment

_PASSAGE_COLUMNS = (
    "segment, row, article_id, paragraph, part, start_offset, end_offset, text, sentences, "
    "dup_article, dup_hash, dup_ordinal, vector, sentence_vectors, sentence_parse"
)
_TYPES = ["text", "int4", "text", "int4", "int4", "int4", "int4", "text", "text"]
_TYPES += ["text", "text", "int4", "bytea", "bytea", "bytea"]


def _vectors(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def _info_json(info: ArticleInfo) -> str:
    data = asdict(info)
    data.pop("library", None)  # which library answered: never stored
    return json.dumps(data, ensure_ascii=False)


def upload_segment(conn: Connection, schema: str, directory: Path) -> int:
    """Insert the segment in `directory` (complete, on this host) into `schema`; returns its
    passage count. Call inside the publishing transaction."""
    segment = Segment(directory, verify=False)
    try:
        return _upload(conn, schema, segment, directory)
    finally:
        segment.close()


def _upload(conn: Connection, schema: str, segment: Segment, directory: Path) -> int:
    s = sql.Identifier(schema)
    manifest = asdict(segment.manifest)
    manifest.pop("files", None)  # this host's files and checksums: each host has its own
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("INSERT INTO {}.segments (id, manifest) VALUES (%s, %s)").format(s),
            (segment.id, json.dumps(manifest, ensure_ascii=False)),
        )
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.segment_articles (segment, article_id, info, duplicate_of_hash, "
                "first_row) VALUES (%s, %s, %s, %s, %s)"
            ).format(s),
            [
                (segment.id, a.info.id, _info_json(a.info), a.duplicate_of_hash, a.first_row)
                for a in segment.articles.values()
            ],
        )
        ptr = segment.sentence_ptr
        copy_sql = sql.SQL("COPY {}.passages (" + _PASSAGE_COLUMNS + ") FROM STDIN").format(s)
        with cur.copy(copy_sql) as copy:
            copy.set_types(_TYPES)
            for stored in segment.records.iter_passages():
                r = stored.record
                ref = stored.copy_of
                copy.write_row(
                    (
                        segment.id,
                        r.row,
                        r.article_id,
                        r.paragraph,
                        r.part,
                        r.start,
                        r.end,
                        r.text,
                        json.dumps(r.sentences),
                        ref.article_id if ref else None,
                        ref.content_hash if ref else None,
                        ref.ordinal if ref else None,
                        _vectors(segment.passage_vectors[r.row]),
                        _vectors(segment.sentence_vectors[int(ptr[r.row]) : int(ptr[r.row + 1])]),
                        r.parse,
                    )
                )
        extra = [
            p
            for p in sorted(directory.rglob("*"))
            if p.is_file() and p.relative_to(directory).as_posix() not in KNOWN_FILES
        ]
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.segment_files (segment, name, data) VALUES (%s, %s, %s)"
            ).format(s),
            [(segment.id, p.relative_to(directory).as_posix(), p.read_bytes()) for p in extra],
        )
    return len(segment)


def download_segment(conn: Connection, schema: str, segment_id: str, segments_dir: Path) -> Path:
    """Write segment `segment_id` of `schema` into `segments_dir` (complete before it gets its
    name). `LookupError` if the database has no such segment (pruned meanwhile)."""
    s = sql.Identifier(schema)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT manifest FROM {}.segments WHERE id = %s").format(s), (segment_id,)
        )
        row = cur.fetchone()
        if row is None:
            raise LookupError(segment_id)
        manifest = row[0]
        cur.execute(
            sql.SQL(
                "SELECT info, duplicate_of_hash, first_row FROM {}.segment_articles "
                "WHERE segment = %s ORDER BY first_row"
            ).format(s),
            (segment_id,),
        )
        articles = [StoredArticle(ArticleInfo(**info), dup, first) for info, dup, first in cur]
        cur.execute(
            sql.SQL(
                "SELECT row, article_id, paragraph, part, start_offset, end_offset, text, "
                "sentences, dup_article, dup_hash, dup_ordinal, vector, sentence_vectors, "
                "sentence_parse FROM {}.passages WHERE segment = %s ORDER BY row"
            ).format(s),
            (segment_id,),
        )
        dimension = int(manifest["dimension"])
        passages: list[StoredPassage] = []
        passage_vectors: list[np.ndarray] = []
        sentence_vectors: list[np.ndarray] = []
        counts: list[int] = []
        for row in cur:
            record = PassageRecord(
                row=row[0],
                article_id=row[1],
                paragraph=row[2],
                part=row[3],
                start=row[4],
                end=row[5],
                text=row[6],
                sentences=tuple(tuple(x) for x in row[7]),
                dup_of=-1,
                parse=bytes(row[13]) if row[13] is not None else None,
            )
            ref = PassageRef(row[8], row[9], row[10]) if row[8] is not None else None
            passages.append(StoredPassage(record, ref))
            passage_vectors.append(np.frombuffer(row[11], "<f4"))
            sentences = np.frombuffer(row[12], "<f4").reshape(-1, dimension)
            sentence_vectors.append(sentences)
            counts.append(len(sentences))
        cur.execute(
            sql.SQL("SELECT name, data FROM {}.segment_files WHERE segment = %s").format(s),
            (segment_id,),
        )
        files = {name: bytes(data) for name, data in cur}
    if len(passages) != manifest["passage_count"]:
        raise LookupError(segment_id)  # cut short: not this segment
    empty = np.zeros((0, dimension), np.float32)
    with tempfile.TemporaryDirectory(prefix="tradetalk-bm25-") as scratch:
        bm25 = {n: d for n, d in files.items() if n.startswith(f"{BM25_DIR}/")}
        for name, data in bm25.items():
            target = Path(scratch) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        postings = Postings.load(Path(scratch) / BM25_DIR, len(passages))
    content = SegmentContent(
        articles=articles,
        passages=passages,
        passage_vectors=np.vstack(passage_vectors).astype(np.float32) if passages else empty,
        sentence_vectors=np.vstack(sentence_vectors).astype(np.float32) if sum(counts) else empty,
        sentence_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        postings=postings,
        sources={k: list(v) for k, v in manifest.get("sources", {}).items()},
    )
    others = {n: d for n, d in files.items() if not n.startswith(f"{BM25_DIR}/")}
    segments_dir.mkdir(parents=True, exist_ok=True)
    tmp = segments_dir / f".tmp-{segment_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_segment(tmp, content, index_kind=manifest["index_kind"], extra_files=others)
        final = segments_dir / segment_id
        shutil.rmtree(final, ignore_errors=True)  # a half-written leftover of a dead process
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
