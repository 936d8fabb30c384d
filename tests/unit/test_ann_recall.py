"""The approximate indexes (HNSW, IVF) against exact search, on synthetic clustered vectors and
with the production parameters, each at the corpus size where it takes over: recall@10 must
stay at or above 0.95. (It rises with corpus size in the benchmark, so the threshold is the
hardest case.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.dense import HNSW_THRESHOLD, IVF_THRESHOLD, DenseIndex, choose_kind, ivf_lists
from retrieval.index import IndexData, PassageIndex
from retrieval.manifest import MANIFEST_NAME
from retrieval.records import ArticleInfo, PassageRecord
from retrieval.storage import IndexStorage

DIMENSION = 384


def clustered_unit_vectors(count: int, *, seed: int, noise: float = 1.5) -> np.ndarray:
    """Vectors around 1,000 fixed random centres (the benchmark's generator, bench/synthetic.py):
    at noise 1.5 a query's nearest neighbours have cosines near 0.4, as MiniLM's do."""
    centres = np.random.default_rng(12345).standard_normal((1000, DIMENSION), np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    vectors = centres[rng.integers(0, 1000, count)]
    vectors += rng.standard_normal((count, DIMENSION), np.float32) * np.float32(
        noise / np.sqrt(DIMENSION)
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def recall_at_10(approximate: DenseIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    truth = DenseIndex.build(vectors, "flat").search(queries, 10).ids
    found = approximate.search(queries, 10).ids
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered_unit_vectors(200, seed=2)


@pytest.mark.parametrize(("kind", "count"), [("hnsw", HNSW_THRESHOLD), ("ivf", IVF_THRESHOLD)])
def test_approximate_search_finds_what_exact_search_finds(kind, count, queries, tmp_path) -> None:
    assert choose_kind(count) == kind
    vectors = clustered_unit_vectors(count, seed=1)
    DenseIndex.build(vectors, kind).save(tmp_path / "passages.faiss")
    loaded = DenseIndex.load(tmp_path / "passages.faiss", kind)  # as a served build loads it
    assert len(loaded) == count
    assert recall_at_10(loaded, vectors, queries) >= 0.95
    # What it returns is scored exactly, best first.
    hits = loaded.search(queries[:10], 10)
    for query, ids, scores in zip(queries[:10], hits.ids, hits.scores, strict=True):
        np.testing.assert_allclose(scores, vectors[ids] @ query, atol=1e-5)
        assert (np.diff(scores) <= 1e-6).all()


def test_the_same_vectors_build_the_same_ivf_index(queries, tmp_path) -> None:
    vectors = clustered_unit_vectors(10_000, seed=4)
    for name in ("a", "b"):
        DenseIndex.build(vectors, "ivf").save(tmp_path / name)
    first = DenseIndex.load(tmp_path / "a", "ivf").search(queries, 10).ids
    np.testing.assert_array_equal(
        DenseIndex.load(tmp_path / "b", "ivf").search(queries, 10).ids, first
    )


def test_each_tier_starts_at_its_threshold() -> None:
    assert choose_kind(HNSW_THRESHOLD - 1) == "flat"
    assert choose_kind(IVF_THRESHOLD - 1) == "hnsw"
    assert choose_kind(10_000_000) == "ivf"
    for count in (IVF_THRESHOLD, 1_000_000, 10_000_000):
        assert 39 * ivf_lists(count) <= count  # enough vectors to train every list


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_a_build_records_its_index_kind_and_loads_it(kind, tmp_path) -> None:
    count = 4000
    vectors = clustered_unit_vectors(count, seed=3)
    article = ArticleInfo("a", "Talks", "Wire", "2018-09-01", None, "h", False, count, None)
    words = ["dairy", "tariffs", "steel", "autos", "lumber", "quota"]
    passages = [
        PassageRecord(i, "a", i + 1, 0, 0, 5, f"{words[i % 6]} {i}", ((0, 5),), -1)
        for i in range(count)
    ]
    data = IndexData(
        model_id="test-model@1",
        dimension=DIMENSION,
        backend="torch",
        articles={"a": article},
        passages=passages,
        passage_vectors=vectors,
        sentence_vectors=vectors,
        sentence_ptr=np.arange(count + 1, dtype=np.int64),
        sources={},
    )
    build = IndexStorage(tmp_path / "index").publish(data, index_kind=kind)
    assert json.loads((build / MANIFEST_NAME).read_text())["index_kind"] == kind
    index = PassageIndex(build)
    try:
        assert index.dense.kind == kind
        hits = index.dense.search(vectors[:5], 1)
        np.testing.assert_array_equal(hits.ids[:, 0], np.arange(5))  # each vector finds itself
    finally:
        index.close()
