"""One segment of an index: an immutable directory of passages with their vectors, vector index,
BM25 postings and records.

A build (see `index.py`) is a list of segments; adding an article writes one small segment and
a new build that lists it after the existing ones, so its cost does not grow with the library.
Segments are never changed once written: a removed article stays in its segment and the build
lists it as removed; merges (`merging.py`) write a new segment from several and a build that
uses it instead of them.

Layout of ``index/segments/<id>/``::

    passages.faiss             vector index of the passages (flat, HNSW or IVF, by size)
    passage_vectors.npy        the passage vectors (memory-mapped), sentence_vectors.npy,
    sentence_ptr.npy           and which sentences belong to which passage
    bm25/                      raw postings (`lexical.Postings`)
    records.sqlite             passage text, offsets, sentence spans, copies, articles
    segment.json               written last: counts, sources, every file's size and sha256
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from errors import IndexCorrupt, IndexOutdated
from retrieval import crashpoints
from retrieval.dense import DenseIndex, choose_kind
from retrieval.lexical import Postings
from retrieval.manifest import (
    FORMAT_VERSION,
    SegmentManifest,
    checksum_files,
    fingerprint_add,
    read_segment_manifest,
    verify_files,
    write_segment_manifest,
)
from retrieval.records import (
    ArticleInfo,
    PassageRef,
    RecordStore,
    StoredArticle,
    StoredPassage,
    write_records,
)

DENSE = "passages.faiss"
PASSAGE_VECTORS = "passage_vectors.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
SENTENCE_PTR = "sentence_ptr.npy"
BM25_DIR = "bm25"
RECORDS = "records.sqlite"
# The files every segment has; anything else in a segment is carried along as it is.
KNOWN_FILES = (DENSE, PASSAGE_VECTORS, SENTENCE_VECTORS, SENTENCE_PTR, RECORDS, "segment.json")

# Resolves a row outside the data being written (a copy of a passage already in the index).
Resolver = Callable[[int], PassageRef]


def new_segment_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class SegmentContent:
    """Everything a new segment holds, in memory, before it is written."""

    articles: list[StoredArticle]
    passages: list[StoredPassage]  # rows 0..n-1
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_ptr: np.ndarray  # (passages + 1,)
    postings: Postings
    sources: dict[str, list[str]]
    dense: DenseIndex | None = None  # built from the passage vectors when not given


def write_segment(
    directory: Path,
    content: SegmentContent,
    *,
    index_kind: str | None = None,
    extra_files: dict[str, bytes] | None = None,
):
    """Write every file, then ``segment.json``. Returns the `SegmentManifest`. `extra_files`
    are other files the segment carries (name -> bytes), copied as they are."""
    directory.mkdir(parents=True)
    for name, data in (extra_files or {}).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    count = len(content.passages)
    kind = index_kind or (content.dense.kind if content.dense else choose_kind(count))
    dense = content.dense or DenseIndex.build(content.passage_vectors, kind)
    dense.save(directory / DENSE)
    np.save(directory / PASSAGE_VECTORS, content.passage_vectors, allow_pickle=False)
    np.save(directory / SENTENCE_VECTORS, content.sentence_vectors, allow_pickle=False)
    np.save(directory / SENTENCE_PTR, content.sentence_ptr, allow_pickle=False)
    content.postings.save(directory / BM25_DIR)
    write_records(directory / RECORDS, content.articles, content.passages)
    crashpoints.reached("segment-files-written")
    return finish_segment(directory, content_summary(content, kind))


@dataclass(frozen=True)
class _Summary:
    passages: int
    sentences: int
    articles: list[ArticleInfo]
    kind: str
    dimension: int
    sources: dict[str, list[str]]


def content_summary(content: SegmentContent, kind: str) -> _Summary:
    return _Summary(
        len(content.passages),
        int(content.sentence_ptr[-1]),
        [a.info for a in content.articles],
        kind,
        int(content.passage_vectors.shape[1]),
        content.sources,
    )


def finish_segment(directory: Path, summary: _Summary) -> SegmentManifest:
    """Checksum the files written into `directory` and write its manifest, last."""
    fingerprint = fingerprint_add("", *((a.id, a.content_hash) for a in summary.articles))
    manifest = SegmentManifest(
        id=directory.name.removeprefix(".tmp-").removeprefix(".merging-"),
        dimension=summary.dimension,
        passage_count=summary.passages,
        sentence_count=summary.sentences,
        article_count=len(summary.articles),
        index_kind=summary.kind,
        fingerprint=fingerprint,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        sources=summary.sources,
        files=checksum_files(directory),
    )
    write_segment_manifest(directory, manifest)
    return manifest


class Segment:
    """One segment, loaded (vectors memory-mapped). Shared by every build that lists it, in
    this process: each `PassageIndex` holding it takes a reference, and the last one to let go
    closes it."""

    def __init__(self, directory: Path, *, verify: bool = True) -> None:
        self.directory = directory
        self.manifest, self.digest = read_segment_manifest(directory)
        m = self.manifest
        self.id = m.id
        if m.format_version != FORMAT_VERSION:
            raise IndexOutdated(f"index segment {directory.name} has format {m.format_version}")
        if verify:
            verify_files(directory, m)
        self._refs = 0
        self._lock = threading.Lock()
        self.closed = False
        try:
            self.passage_vectors = np.asarray(
                np.load(directory / PASSAGE_VECTORS, mmap_mode="r", allow_pickle=False)
            )
            self.sentence_vectors = np.asarray(
                np.load(directory / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
            )
            self.sentence_ptr = np.load(directory / SENTENCE_PTR, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read vectors in index segment {directory.name}") from exc
        self.dense = DenseIndex.load(directory / DENSE, m.index_kind)
        self.postings = Postings.load(directory / BM25_DIR, m.passage_count)
        self.records = RecordStore(directory / RECORDS)
        try:
            stored = self.records.articles()
        except IndexCorrupt:
            self.records.close()
            raise
        self.articles: dict[str, StoredArticle] = {s.info.id: s for s in stored}
        ok = (
            len(self.dense) == m.passage_count
            and self.passage_vectors.shape == (m.passage_count, m.dimension)
            and self.sentence_vectors.shape == (m.sentence_count, m.dimension)
            and len(self.sentence_ptr) == m.passage_count + 1
            and int(self.sentence_ptr[-1]) == m.sentence_count
            and len(self.articles) == m.article_count
            and sum(s.info.passage_count for s in stored) == m.passage_count
        )
        if not ok:
            self.records.close()
            raise IndexCorrupt(f"index segment {directory.name} does not match its manifest")

    def __len__(self) -> int:
        return self.manifest.passage_count

    def acquire(self) -> Segment:
        with self._lock:
            if self.closed:
                raise IndexCorrupt(f"index segment {self.id} is already closed")
            self._refs += 1
        return self

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self.records.close()

    def rows_of(self, article_id: str) -> range:
        stored = self.articles[article_id]
        return range(stored.first_row, stored.first_row + stored.info.passage_count)
