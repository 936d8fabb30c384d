"""An index of many segments answers exactly as one segment holding the same passages would:
the same hits in the same order with the same scores, the same answers, the same BM25 scores
for every passage. With the real model, on the fixture articles plus the bundled one, each
ingested on its own (a segment each), then one removed, one edited, and the segments merged.

The single-segment build is made from the segmented index's own vectors
(`PassageIndex.to_data`, written as one new segment with its BM25 postings built afresh), so
the comparison is of segmenting alone: re-embedding a text in another batch can move a vector
in its seventh decimal."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, CountingEncoder

from config.settings import Settings
from corpus.articles import read_article
from retrieval.search import Searcher
from retrieval.storage import IndexStorage
from tradetalk.engine import Engine
from tradetalk.errors import QuestionError

pytestmark = pytest.mark.model

EVAL = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
QUESTIONS = [
    json.loads(line)["question"]
    for name in ("seed_questions.jsonl", "multi_questions.jsonl")
    for line in (EVAL / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]
TOKENS = ["dairy", "deal", "canada", "trudeau", "tariff", "freeland", "no-such-word"]


def _articles():
    paths = sorted(p for p in ARTICLES.iterdir() if p.suffix in (".md", ".html", ".txt"))
    return [read_article(p, max_bytes=10_000_000) for p in paths]


def _single_segment_twin(engine: Engine, root: Path, encoder) -> Engine:
    """An engine over the same articles whose index is one segment of the same vectors."""
    data = root / "single"
    shutil.copytree(engine.settings.articles_dir, data / "articles")
    IndexStorage(data / "index").publish(engine.index.to_data())
    twin = Engine(Settings(data_dir=data), encoder=encoder)
    twin.open()
    return twin


def _answer(engine: Engine, question: str) -> object:
    """The whole answer: sentences, citations, hits with their scores, confidence."""
    try:
        return engine.ask(question)
    except QuestionError as exc:
        return ("refused", str(exc))


def _assert_same(segmented: Engine, single: Engine, encoder) -> None:
    a, b = segmented.index, single.index
    assert len(b.segments) == 1
    assert a.articles == b.articles
    assert a.manifest.corpus_fingerprint == b.manifest.corpus_fingerprint
    for token in TOKENS:
        assert a.lexical.idf(token) == b.lexical.idf(token)
        assert a.lexical.knows(token) == b.lexical.knows(token)
    np.testing.assert_array_equal(a.lexical.scores(TOKENS), b.lexical.scores(TOKENS))
    queries = encoder.encode(QUESTIONS[:8])
    for hits_a, hits_b in zip(
        a.dense.search(queries, 40).ids, b.dense.search(queries, 40).ids, strict=True
    ):
        assert set(hits_a) == set(hits_b)
    for question in QUESTIONS:
        searched_a = Searcher(a, encoder).search(question, 16)
        searched_b = Searcher(b, encoder).search(question, 16)
        assert searched_a == searched_b, question
        assert _answer(segmented, question) == _answer(single, question), question


# Embeds every fixture article one segment at a time: ~1 min alone, several on a loaded machine.
@pytest.mark.timeout(900)
def test_many_segments_answer_exactly_as_one(real_encoder, tmp_path: Path) -> None:
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    engine.open()
    articles = _articles()
    for article in articles:  # one segment per article
        engine.ingest_article(article)
    assert len(engine.index.segments) == len(articles) + 1
    counting = CountingEncoder(real_encoder)
    twin = _single_segment_twin(engine, tmp_path / "a", counting)
    assert counting.embedded == 0  # the twin's index is the one written, not a rebuild
    _assert_same(engine, twin, real_encoder)

    # An article removed (its segment still holds it) and one edited (its new version in a
    # new segment, the old one still in the old segment): still the same as one segment.
    engine.remove(next(a.id for a in engine.articles() if "Lakeshore" in a.source))
    edited = articles[0]
    engine.ingest_article(replace(edited, paragraphs=edited.paragraphs[:-1]))
    _assert_same(engine, _single_segment_twin(engine, tmp_path / "b", real_encoder), real_encoder)

    # Merged: fewer segments, removed passages dropped, the same answers again.
    assert engine.merge() >= 1
    assert len(engine.index.segments) < len(articles)
    _assert_same(engine, _single_segment_twin(engine, tmp_path / "c", real_encoder), real_encoder)
