"""The approximate (IVF) index against exact search, on synthetic clustered vectors built with
the production parameters: recall@10 must stay at or above 0.95."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.dense import APPROXIMATE_THRESHOLD, DenseIndex, choose_kind, ivf_lists
from retrieval.index import IndexData, PassageIndex
from retrieval.manifest import MANIFEST_NAME
from retrieval.records import ArticleInfo, PassageRecord

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


def recall_at_10(approximate: DenseIndex, exact: DenseIndex, queries: np.ndarray) -> float:
    truth = exact.search(queries, 10).ids
    found = approximate.search(queries, 10).ids
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


@pytest.fixture(scope="module")
def corpus() -> np.ndarray:
    return clustered_unit_vectors(30_000, seed=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered_unit_vectors(300, seed=2)


@pytest.fixture(scope="module")
def saved_ivf(corpus, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ivf") / "passages.faiss"
    DenseIndex.build(corpus, "ivf").save(path)
    return path


def test_ivf_finds_what_exact_search_finds(corpus, queries, saved_ivf) -> None:
    exact = DenseIndex.build(corpus, "flat")
    approximate = DenseIndex.load(saved_ivf, "ivf")  # memory-mapped, as a served build is
    assert len(approximate) == len(corpus)
    assert recall_at_10(approximate, exact, queries) >= 0.95


def test_ivf_scores_are_the_exact_cosines_of_what_it_returns(corpus, queries, saved_ivf) -> None:
    hits = DenseIndex.load(saved_ivf, "ivf").search(queries[:20], 10)
    for query, ids, scores in zip(queries[:20], hits.ids, hits.scores, strict=True):
        assert (ids >= 0).all()
        np.testing.assert_allclose(scores, corpus[ids] @ query, atol=1e-5)
        assert (np.diff(scores) <= 1e-6).all()  # best first


def test_the_same_vectors_build_the_same_index(corpus, queries, saved_ivf, tmp_path) -> None:
    again = tmp_path / "again.faiss"
    DenseIndex.build(corpus, "ivf").save(again)
    first = DenseIndex.load(saved_ivf, "ivf").search(queries[:20], 10).ids
    np.testing.assert_array_equal(DenseIndex.load(again, "ivf").search(queries[:20], 10).ids, first)


def test_small_corpora_are_searched_exactly_and_big_ones_approximately() -> None:
    assert choose_kind(APPROXIMATE_THRESHOLD - 1) == "flat"
    assert choose_kind(APPROXIMATE_THRESHOLD) == "ivf"
    for count in (APPROXIMATE_THRESHOLD, 100_000, 1_000_000):
        assert 39 * ivf_lists(count) <= count  # enough vectors to train every list


def test_a_build_over_the_threshold_is_ivf_in_its_manifest_and_loads(tmp_path) -> None:
    count = APPROXIMATE_THRESHOLD
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
    manifest = data.write(tmp_path / "build")
    assert manifest.index_kind == "ivf"
    assert json.loads((tmp_path / "build" / MANIFEST_NAME).read_text())["index_kind"] == "ivf"
    index = PassageIndex(tmp_path / "build")
    try:
        assert index.dense.kind == "ivf"
        hits = index.dense.search(vectors[:5], 1)
        np.testing.assert_array_equal(hits.ids[:, 0], np.arange(5))  # each vector finds itself
    finally:
        index.close()
