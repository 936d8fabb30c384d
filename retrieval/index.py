"""The passage index: vectors (FAISS), BM25, sentence vectors and records, as one unit.

`IndexData` is the in-memory form a build works on; `PassageIndex` is a loaded, read-only build
that serves searches. A build is written whole into its own directory (see `storage.py`)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from errors import IndexCorrupt, IndexOutdated
from retrieval import crashpoints
from retrieval.dense import DenseIndex, choose_kind
from retrieval.lexical import LexicalIndex
from retrieval.manifest import (
    FORMAT_VERSION,
    Manifest,
    checksum_files,
    read_manifest,
    verify_files,
    write_manifest,
)
from retrieval.records import ArticleInfo, PassageRecord, RecordStore, write_records
from retrieval.text import passage_terms
from retrieval.tokenize import tokenize

RECORDS = "records.sqlite"
DENSE = "passages.faiss"
PASSAGE_VECTORS = "passage_vectors.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
SENTENCE_PTR = "sentence_ptr.npy"
BM25_DIR = "bm25"


def corpus_fingerprint(articles: dict[str, str]) -> str:
    """Hash of every (article id, content hash) pair: equal iff the corpus is the same."""
    payload = "\n".join(f"{k}:{v}" for k, v in sorted(articles.items()))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class IndexData:
    """A complete index held in memory while it is being built or changed."""

    model_id: str
    dimension: int
    backend: str
    articles: dict[str, ArticleInfo]
    passages: list[PassageRecord]  # passages[i].row == i
    passage_vectors: np.ndarray  # (passages, dimension) float32, L2-normalised
    sentence_vectors: np.ndarray  # (sentences, dimension) float32, L2-normalised
    sentence_ptr: np.ndarray  # (passages + 1,) int64: passage i owns rows ptr[i]:ptr[i+1]
    sources: dict[str, list[str]]  # article file name -> [file sha256, article id]
    encoder: dict[str, str] = field(default_factory=dict)  # the encoder that embedded it

    @classmethod
    def empty(
        cls, model_id: str, dimension: int, backend: str, encoder: dict[str, str] | None = None
    ) -> IndexData:
        return cls(
            model_id=model_id,
            dimension=dimension,
            backend=backend,
            articles={},
            passages=[],
            passage_vectors=np.zeros((0, dimension), np.float32),
            sentence_vectors=np.zeros((0, dimension), np.float32),
            sentence_ptr=np.zeros(1, np.int64),
            sources={},
            encoder=dict(encoder or {}),
        )

    def without_articles(self, article_ids: set[str]) -> IndexData:
        """A copy minus the given articles; rows are renumbered, nothing is re-embedded."""
        if not article_ids:
            return self
        keep = [p.row for p in self.passages if p.article_id not in article_ids]
        renumber = {old: new for new, old in enumerate(keep)}
        passages = []
        for new, old in enumerate(keep):
            record = self.passages[old]
            dup = renumber.get(record.dup_of, -1) if record.dup_of >= 0 else -1
            passages.append(replace(record, row=new, dup_of=dup))
        lengths = np.diff(self.sentence_ptr)[keep] if keep else np.zeros(0, np.int64)
        sentence_rows = (
            np.concatenate(
                [np.arange(self.sentence_ptr[r], self.sentence_ptr[r + 1]) for r in keep]
            )
            if keep
            else np.zeros(0, np.int64)
        )
        articles = {
            k: replace(v, duplicate_of=None if v.duplicate_of in article_ids else v.duplicate_of)
            for k, v in self.articles.items()
            if k not in article_ids
        }
        return replace(
            self,
            articles=articles,
            passages=passages,
            passage_vectors=np.asarray(self.passage_vectors[keep], np.float32),
            sentence_vectors=np.asarray(self.sentence_vectors[sentence_rows], np.float32),
            sentence_ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            sources={k: v for k, v in self.sources.items() if v[1] not in article_ids},
        )

    def lexical_tokens(self, record: PassageRecord) -> list[str]:
        article = self.articles[record.article_id]
        return passage_terms(record.text, article.date, article.title)

    def write(
        self, directory: Path, *, index_kind: str | None = None, generation: int = 0
    ) -> Manifest:
        """Write every file, then the manifest (last: its presence marks a complete build)."""
        directory.mkdir(parents=True)
        kind = index_kind or choose_kind(len(self.passages))
        DenseIndex.build(self.passage_vectors, kind).save(directory / DENSE)
        np.save(directory / PASSAGE_VECTORS, self.passage_vectors, allow_pickle=False)
        np.save(directory / SENTENCE_VECTORS, self.sentence_vectors, allow_pickle=False)
        np.save(directory / SENTENCE_PTR, self.sentence_ptr, allow_pickle=False)
        LexicalIndex.build([self.lexical_tokens(p) for p in self.passages]).save(
            directory / BM25_DIR
        )
        write_records(directory / RECORDS, self.articles.values(), self.passages)
        crashpoints.reached("build-files-written")
        hashes = {k: v.content_hash for k, v in self.articles.items()}
        manifest = Manifest(
            model_id=self.model_id,
            dimension=self.dimension,
            backend=self.backend,
            encoder=self.encoder,
            passage_count=len(self.passages),
            sentence_count=int(self.sentence_ptr[-1]),
            corpus_fingerprint=corpus_fingerprint(hashes),
            articles=hashes,
            index_kind=kind,
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            files=checksum_files(directory),
            sources=self.sources,
            generation=generation,
        )
        write_manifest(directory, manifest)
        return manifest


class PassageIndex:
    """One loaded build. Read-only: changes produce a new build (copy-on-write).

    Searches hold a lease on the build they use (`acquire` / `release`). When a newer build
    replaces it, the old one is `retire`d and closes when its last lease is released, so a
    search in flight finishes on the build it started with, however many swaps happen."""

    def __init__(self, directory: Path, *, verify: bool = True) -> None:
        self.directory = directory
        self._leases = 0
        self._retired = False
        self.closed = False
        self._lease_lock = threading.Lock()
        self.manifest = read_manifest(directory)
        if self.manifest.format_version != FORMAT_VERSION:
            # Its files mean something else (another records schema, other tokens): read
            # nothing, so the engine rebuilds from the article files.
            raise IndexOutdated(
                f"index build {directory.name} has format {self.manifest.format_version}; "
                f"this TradeTalk reads format {FORMAT_VERSION}"
            )
        if verify:
            verify_files(directory, self.manifest)
        m = self.manifest
        try:
            # Plain arrays over the mapped files: np.memmap's per-index Python overhead shows in
            # every search's candidate scoring.
            self.passage_vectors = np.asarray(
                np.load(directory / PASSAGE_VECTORS, mmap_mode="r", allow_pickle=False)
            )
            self.sentence_vectors = np.asarray(
                np.load(directory / SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
            )
            self.sentence_ptr = np.load(directory / SENTENCE_PTR, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read vectors in index build {directory.name}") from exc
        self.dense = DenseIndex.load(directory / DENSE, m.index_kind)
        self.lexical = LexicalIndex.load(directory / BM25_DIR, m.passage_count)
        self.records = RecordStore(directory / RECORDS)
        self.articles = self.records.articles()
        shapes_ok = (
            len(self.dense) == m.passage_count
            and self.passage_vectors.shape == (m.passage_count, m.dimension)
            and self.sentence_vectors.shape == (m.sentence_count, m.dimension)
            and len(self.sentence_ptr) == m.passage_count + 1
            and set(self.articles) == set(m.articles)
        )
        if not shapes_ok:
            self.close()
            raise IndexCorrupt(f"index build {directory.name} does not match its manifest")

    def __len__(self) -> int:
        return self.manifest.passage_count

    @functools.cached_property
    def metadata_terms(self) -> frozenset[str]:
        """Stems of the outlets' names: "what did Bloomberg report?" names a source the
        article text may never mention (titles are in BM25 already)."""
        return frozenset(t for a in self.articles.values() for t in tokenize(a.source))

    @property
    def version(self) -> str:
        """Changes with every build: caches key on it."""
        return self.directory.name

    def acquire(self) -> None:
        with self._lease_lock:
            if self.closed:
                raise IndexCorrupt(f"index build {self.directory.name} is already closed")
            self._leases += 1

    def release(self) -> None:
        with self._lease_lock:
            self._leases -= 1
            last = self._retired and self._leases == 0
        if last:
            self.close()

    def retire(self) -> None:
        """No new lease will be taken: close now if nothing holds it, else on the last release."""
        with self._lease_lock:
            self._retired = True
            idle = self._leases == 0
        if idle:
            self.close()

    @property
    def leases(self) -> int:
        return self._leases

    def close(self) -> None:
        with self._lease_lock:
            if self.closed:
                return
            self.closed = True
        if hasattr(self, "records"):
            self.records.close()

    def to_data(self) -> IndexData:
        """Everything in memory, for a change that produces the next build."""
        m = self.manifest
        return IndexData(
            model_id=m.model_id,
            dimension=m.dimension,
            backend=m.backend,
            articles=dict(self.articles),
            passages=list(self.records.iter_passages()),
            passage_vectors=np.array(self.passage_vectors, np.float32),
            sentence_vectors=np.array(self.sentence_vectors, np.float32),
            sentence_ptr=np.array(self.sentence_ptr, np.int64),
            sources={k: list(v) for k, v in m.sources.items()},
            encoder=dict(m.encoder),
        )
