"""Dense vector search with FAISS, in three tiers by corpus size (measured by ``python -m
bench``; the figures are in docs/PERFORMANCE.md):

- ``flat``: exact inner product. Below `HNSW_THRESHOLD` passages, scanning every vector costs
  about a millisecond, no more than a graph search, and nothing is approximate.
- ``hnsw``: a graph index. Recall@10 ≥ 0.95 against exact search at every size we tried, but
  its build time grows fast (over a minute at 100k passages on two cores, tens of minutes at a
  million), and every change to the corpus rebuilds it.
- ``ivf``: an inverted-file index, from `IVF_THRESHOLD` passages: it builds in seconds at 100k
  passages and a couple of minutes at a million. Its recall needs enough vectors per list,
  which is why it does not take over from HNSW below 100k passages (at 60k, recall@10 fell to
  0.93 on the harder synthetic set).

Every kind is loaded memory-mapped: the vectors stay in the page cache, shared between
processes, and a build loads in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from errors import IndexCorrupt

HNSW_THRESHOLD = 10_000
IVF_THRESHOLD = 100_000

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128

IVF_LISTS_PER_SQRT = 4  # nlist = 4·√n: FAISS's usual starting point
IVF_TRAIN_PER_LIST = 40  # training sample per list (FAISS warns below 39); k-means is the
IVF_TRAIN_ITERATIONS = 10  # bulk of a build: at 1M, 40 per list and 10 rounds keep it short
# Lists scanned per query: at least IVF_NPROBE, and enough lists to cover IVF_MIN_SCANNED
# vectors. Recall@10 ≥ 0.95 from IVF_THRESHOLD to 1M passages (benchmarked).
IVF_NPROBE = 16
IVF_MIN_SCANNED = 2000
TRAIN_SEED = 1234  # builds of the same vectors give the same index


@dataclass(frozen=True)
class DenseHits:
    ids: np.ndarray  # int64 row numbers, -1 for empty slots
    scores: np.ndarray  # float32 cosine similarities


def choose_kind(count: int) -> str:
    if count >= IVF_THRESHOLD:
        return "ivf"
    return "hnsw" if count >= HNSW_THRESHOLD else "flat"


def ivf_probes(count: int, lists: int) -> int:
    """Lists to scan for a query among `count` vectors in `lists` lists."""
    covering = math.ceil(IVF_MIN_SCANNED * lists / max(count, 1))
    return max(1, min(lists, max(IVF_NPROBE, covering)))


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: 4·√n, and few enough that each has 39+ to train on."""
    return max(1, min(int(IVF_LISTS_PER_SQRT * math.sqrt(count)), count // 39))


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
        if kind == "ivf":
            index = _trained_ivf(vectors)
        elif kind == "hnsw":
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
        """Read a saved index, memory-mapping its vectors (zero-copy: FAISS's plain
        IO_FLAG_MMAP reads flat and HNSW indexes whole, and turns IVF lists into on-disk lists
        that search several times slower)."""
        flags = _MMAP_FLAGS if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read the vector index {path.name}") from exc
        if kind == "hnsw" and hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        if kind == "ivf":
            ivf = faiss.extract_index_ivf(index)
            ivf.nprobe = ivf_probes(int(ivf.ntotal), int(ivf.nlist))
        return cls(index, kind)


_MMAP_FLAGS = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP) | faiss.IO_FLAG_READ_ONLY


def _trained_ivf(vectors: np.ndarray) -> faiss.Index:
    count, dimension = vectors.shape
    lists = ivf_lists(count)
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
    )
    sample = min(count, IVF_TRAIN_PER_LIST * lists)
    rows = np.random.default_rng(TRAIN_SEED).choice(count, sample, replace=False)
    index.cp.seed = TRAIN_SEED
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.train(vectors[np.sort(rows)])
    index.nprobe = ivf_probes(count, lists)
    return index
