"""Dense vector search with FAISS: exact inner product for small corpora, HNSW above a size
threshold (the benchmark in ``bench/`` measures where exact search stops being cheap)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from tradetalk.errors import IndexCorrupt

# Passages above which an approximate index pays off (see docs/PERFORMANCE.md).
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


@dataclass(frozen=True)
class DenseHits:
    ids: np.ndarray  # int64 row numbers, -1 for empty slots
    scores: np.ndarray  # float32 cosine similarities


def choose_kind(count: int, threshold: int = HNSW_THRESHOLD) -> str:
    return "hnsw" if count >= threshold else "flat"


class DenseIndex:
    """A thin wrapper that keeps FAISS's API (and its quirks) in one place."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str | None = None) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension = vectors.shape[1]
        kind = kind or choose_kind(len(vectors))
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        elif kind == "flat":
            index = faiss.IndexFlatIP(dimension)
        else:
            raise ValueError(f"unknown dense index kind {kind!r}")
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, queries: np.ndarray, k: int) -> DenseHits:
        k = max(1, min(k, len(self)))
        if not len(self):
            empty = np.full((len(queries), 0), -1, dtype=np.int64)
            return DenseHits(empty, empty.astype(np.float32))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return DenseHits(ids, scores)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, *, mmap: bool = True) -> DenseIndex:
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read the vector index {path.name}") from exc
        if kind == "hnsw" and hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, kind)
