"""Segments: BM25 with corpus-wide statistics, the merge policy, merges racing writes, and what
an ingest writes (only the new article, whatever the size of the library).

The hashing test encoder keeps these fast; `tests/integration/test_segmented_index.py` makes
the same comparison with the real model."""

from __future__ import annotations

import os
from pathlib import Path

import bm25s
import numpy as np
import pytest
from conftest import ARTICLES

import retrieval.merging as merging
from corpus.articles import read_article
from corpus.passages import split_passages
from retrieval.index import PassageIndex
from retrieval.lexical import LexicalIndex, LexicalPart, Postings
from retrieval.manifest import MANIFEST_NAME
from retrieval.search import Searcher
from retrieval.storage import IndexStorage
from retrieval.text import passage_terms

QUERIES = [
    ["dairy"],
    ["dairy", "canada"],
    ["deal", "deal", "trudeau"],  # a repeated token counts twice, as in bm25s
    ["tariff", "steel", "aluminum", "auto"],
    ["no-such-word"],
]


def _token_lists() -> list[list[str]]:
    tokens = []
    for path in sorted(ARTICLES.glob("*.md")):
        article = read_article(path, max_bytes=10_000_000)
        for passage in split_passages(article):
            tokens.append(passage_terms(passage.text, article.date, article.title))
    return tokens


def _split(tokens: list[list[str]], cuts: list[int]) -> LexicalIndex:
    parts, start = [], 0
    for stop in [*cuts, len(tokens)]:
        parts.append(LexicalPart(Postings.build(tokens[start:stop]), start))
        start = stop
    return LexicalIndex(parts, len(tokens))


def test_bm25_scores_are_bm25s_scores() -> None:
    """The postings scorer gives what bm25s (the scorer before segments) gave."""
    tokens = _token_lists()
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(tokens, show_progress=False)
    ours = LexicalIndex.build(tokens)
    for query in QUERIES:
        known = [t for t in query if t in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(len(tokens), np.float32)
        np.testing.assert_allclose(ours.scores(query), expected, rtol=2e-6, atol=1e-6)


def test_segmented_bm25_is_exactly_one_index() -> None:
    tokens = _token_lists()
    whole = LexicalIndex.build(tokens)
    for cuts in ([10], [5, 6, 30], list(range(1, len(tokens), 7))):
        split = _split(tokens, cuts)
        for query in QUERIES:
            np.testing.assert_array_equal(split.scores(query), whole.scores(query))
            for token in query:
                assert split.idf(token) == whole.idf(token)
                assert split.knows(token) == whole.knows(token)


def test_removed_passages_leave_the_statistics() -> None:
    """Passages a build no longer serves count for nothing: not in N, the average length or
    any document frequency; the rest score as in an index built without them."""
    tokens = _token_lists()
    gone = set(range(12, 20)) | {3}
    kept = [t for n, t in enumerate(tokens) if n not in gone]
    served = np.full(len(tokens), -1, np.int64)
    keep = np.array([n not in gone for n in range(len(tokens))])
    served[keep] = np.arange(keep.sum())
    with_holes = LexicalIndex([LexicalPart(Postings.build(tokens), 0, served)], len(kept))
    without = LexicalIndex.build(kept)
    for query in QUERIES:
        np.testing.assert_array_equal(with_holes.scores(query), without.scores(query))
    only_there = next(t for t in tokens[3] if sum(t in d for d in tokens) == 1)
    assert not with_holes.knows(only_there)
    # A segment's postings without those passages (what a merge writes) are the same index.
    compacted = LexicalIndex([LexicalPart(Postings.build(tokens).subset(keep), 0)], len(kept))
    for query in QUERIES:
        np.testing.assert_array_equal(compacted.scores(query), without.scores(query))


def test_postings_concatenate_to_the_postings_of_the_whole() -> None:
    tokens = _token_lists()
    parts = [Postings.build(tokens[:9]), Postings.build(tokens[9:40]), Postings.build(tokens[40:])]
    joined, whole = Postings.concatenate(parts), Postings.build(tokens)
    assert joined.terms == whole.terms
    for name in ("indptr", "rows", "tf", "doc_len"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))


# -- the merge policy ------------------------------------------------------------------------


def test_merge_policy() -> None:
    small = merging.SMALLEST_TIER // 10
    assert merging.plan([100_000, small], [100_000, small]) is None
    assert merging.plan([100_000, small, small, small], [100_000] + [small] * 3) == (1, 4)
    # The newest run of one tier first; the big segment is left alone.
    tier1 = merging.SMALLEST_TIER * 2
    sizes = [100_000, tier1, tier1, tier1, small]
    assert merging.plan(sizes, sizes) == (1, 4)
    # A segment with more than a quarter of its passages removed is rewritten alone.
    assert merging.plan([1000, small], [2000, small]) == (0, 1)
    assert merging.plan([1000, small], [1200, small]) is None


def test_a_library_has_few_segments_whatever_its_size() -> None:
    """After a thousand ingests of 30 passages each (and every merge the policy asks for),
    the segments stay few and most passages sit in big ones."""
    sizes: list[int] = [100_000]
    counts = []
    for _ in range(1000):
        sizes.append(30)
        while (span := merging.plan(sizes, sizes)) is not None:
            sizes[span[0] : span[1]] = [sum(sizes[span[0] : span[1]])]
        counts.append(len(sizes))
    assert max(counts) <= 16
    assert sum(sizes) == 100_000 + 30_000


# -- merges and writes -----------------------------------------------------------------------

PATHS = sorted(ARTICLES.glob("*.md"))


def _engine(make_engine, encoder):
    engine = make_engine(encoder)
    for path in PATHS[:3]:
        engine.ingest_path(path)
    assert merging.plan_for(engine.index) is not None  # four small segments: a merge is due
    return engine


def _same_as_one_segment(engine, tmp_path: Path, encoder) -> None:
    single = PassageIndex(IndexStorage(tmp_path / "one").publish(engine.index.to_data()))
    try:
        assert engine.index.articles == single.articles
        for question in ("What blocks the deal?", "dairy quota", "Trudeau meeting"):
            assert Searcher(engine.index, encoder).search(question, 8) == Searcher(
                single, encoder
            ).search(question, 8)
    finally:
        single.close()


def test_an_article_removed_during_a_merge_is_removed_from_the_merged_segment(
    make_engine, hashing_encoder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = _engine(make_engine, hashing_encoder)
    victim = next(a.id for a in engine.articles() if not a.bundled)
    original = merging.write_merged

    def removal_meanwhile(*args, **kwargs):
        merged = original(*args, **kwargs)
        if victim in engine.index.articles:
            engine.remove(victim)  # the write lock is free while a merge writes its segment
        return merged

    monkeypatch.setattr(merging, "write_merged", removal_meanwhile)
    assert engine.merge() >= 1
    assert victim not in engine.index.articles
    assert len(engine.index.segments) < 4
    _same_as_one_segment(engine, tmp_path, hashing_encoder)
    reopened = make_engine(hashing_encoder)  # and on disk, after a restart
    assert victim not in reopened.index.articles


def test_an_ingest_during_a_merge_lands_after_the_merged_segment(
    make_engine, hashing_encoder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = _engine(make_engine, hashing_encoder)
    original = merging.write_merged
    added = []

    def ingest_meanwhile(*args, **kwargs):
        merged = original(*args, **kwargs)
        if not added:
            added.append(engine.ingest_path(PATHS[3]).article.id)
        return merged

    monkeypatch.setattr(merging, "write_merged", ingest_meanwhile)
    assert engine.merge() >= 1
    assert added[0] in engine.index.articles
    assert len(engine.articles()) == 5
    _same_as_one_segment(engine, tmp_path, hashing_encoder)


def test_a_merge_overtaken_by_a_rebuild_is_dropped(
    make_engine, hashing_encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(make_engine, hashing_encoder)
    original = merging.write_merged
    rebuilt = []

    def rebuild_meanwhile(*args, **kwargs):
        merged = original(*args, **kwargs)
        if not rebuilt:
            rebuilt.append(engine.rebuild().version)
        return merged

    monkeypatch.setattr(merging, "write_merged", rebuild_meanwhile)
    engine.merge()
    assert rebuilt and engine.index.version == rebuilt[0]  # the rebuild's build is served
    assert len(engine.index.segments) == 1
    assert not [p for p in engine.storage.segments.iterdir() if p.name.startswith(".")]


def test_an_ingest_writes_only_the_new_article(make_engine, hashing_encoder) -> None:
    """Adding an article copies nothing of the library: the segments already there are the
    same files, untouched, and the new build is a manifest listing them plus one new segment
    holding the new passages alone."""
    engine = _engine(make_engine, hashing_encoder)
    before = {
        path: (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in engine.storage.segments.rglob("*")
        if path.is_file()
    }
    old_segments = {s.id for s in engine.index.segments}
    added = engine.ingest_path(PATHS[3]).article
    for path, stamp in before.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp
    assert [p.name for p in engine.index.directory.iterdir()] == [MANIFEST_NAME]
    [new] = [s for s in engine.index.segments if s.id not in old_segments]
    assert len(new) == added.passage_count
    assert set(new.articles) == {added.id}


def test_a_new_build_shares_the_open_segments(make_engine, hashing_encoder) -> None:
    """In-process, the next build uses the segment objects already open (nothing is read or
    checked again), and a segment closes only when no build holds it."""
    engine = _engine(make_engine, hashing_encoder)
    old = engine.index
    kept = list(old.segments)
    engine.ingest_path(PATHS[3])
    assert engine.index.segments[: len(kept)] == kept  # the very same objects
    assert old.closed and not any(s.closed for s in kept)
    engine.merge()
    assert all(s.closed for s in kept if s not in engine.index.segments)


def test_a_segment_file_changed_on_disk_is_caught(make_engine, hashing_encoder) -> None:
    engine = _engine(make_engine, hashing_encoder)
    newest = engine.index.segments[-1].directory
    current = engine.index.directory
    ids = {a.id for a in engine.articles()}
    engine.close()
    path = newest / "bm25" / "tf.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))
    os.utime(path)
    reopened = make_engine(hashing_encoder)
    assert reopened.index.directory != current  # the damaged build is not served
    assert {a.id for a in reopened.articles()} == ids  # the older build, brought up to date
