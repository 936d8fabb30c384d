"""Ingesting several articles at once: one embedding pass and one new build for all of them,
each article answered for on its own, and all-or-nothing when embedding or writing fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import ARTICLES, HashingEncoder

from corpus.articles import read_article
from tradetalk.errors import ReadOnlyArticle, StorageError

FILES = sorted(ARTICLES.glob("*.md"))[:4]


def articles(paths=FILES):
    return [read_article(p, max_bytes=2_000_000) for p in paths]


def passage_keys(engine) -> list[tuple]:
    return sorted((p.article_id, p.start, p.end) for p in engine.index.records.iter_passages())


def wire_pairs(engine) -> set[frozenset[str]]:
    return {frozenset((a.id, a.duplicate_of)) for a in engine.articles() if a.duplicate_of}


def builds(engine) -> list[str]:
    return sorted(p.name for p in engine.storage.builds.iterdir() if not p.name.startswith("."))


def test_several_articles_go_in_with_one_build_and_one_embedding_pass(
    make_engine, hashing_encoder
) -> None:
    engine = make_engine(hashing_encoder)
    calls_before, builds_before = len(hashing_encoder.calls), builds(engine)
    outcomes = engine.ingest_articles(articles())
    assert [o.status for o in outcomes] == ["added"] * len(FILES)
    assert len(set(builds(engine)) - set(builds_before)) == 1  # not one build per article
    # One pass: every new text fits in a chunk or two, not one call per article.
    assert len(hashing_encoder.calls) - calls_before < len(FILES)
    for outcome in outcomes:
        assert engine.article(outcome.article.id).passage_count == outcome.article.passage_count
        assert (engine.settings.articles_dir / f"{outcome.article.id}.md").exists()
    again = engine.ingest_articles(articles())
    assert [o.status for o in again] == ["unchanged"] * len(FILES)


def test_one_batch_indexes_exactly_what_one_at_a_time_does(make_engine, tmp_path) -> None:
    together = make_engine(HashingEncoder(), data_dir=tmp_path / "together")
    together.ingest_articles(articles())
    apart = make_engine(HashingEncoder(), data_dir=tmp_path / "apart")
    for article in articles():
        apart.ingest_article(article)
    assert passage_keys(together) == passage_keys(apart)
    question = "What does Canada want on dairy?"
    assert together.ask(question).text == apart.ask(question).text
    # The same wire copies are found (which copy is "the original" may differ when two share
    # a date: a batch goes by date then id, one at a time goes by arrival).
    assert wire_pairs(together) == wire_pairs(apart) != set()


def test_a_bundled_article_is_refused_and_the_others_still_go_in(
    make_engine, hashing_encoder
) -> None:
    engine = make_engine(hashing_encoder)
    bundled = engine.index.articles[next(iter(engine.index.articles))]
    # A file claiming the bundled article's id, with other text.
    changed = dataclasses.replace(articles()[0], id=bundled.id)
    outcomes = engine.ingest_articles([changed, *articles()[1:]])
    assert isinstance(outcomes[0], ReadOnlyArticle)
    assert [o.status for o in outcomes[1:]] == ["added"] * (len(FILES) - 1)
    assert engine.article(bundled.id).bundled


def test_the_same_article_twice_in_a_batch_goes_in_once(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    first = articles()[0]
    outcomes = engine.ingest_articles([first, first])
    assert outcomes[0] == outcomes[1] and outcomes[0].status == "added"
    ids = [p.article_id for p in engine.index.records.iter_passages()]
    assert ids.count(first.id) == outcomes[0].article.passage_count


def test_a_failure_while_embedding_restores_every_file_and_the_index(make_engine) -> None:
    class FailsOnBigBatches(HashingEncoder):
        def encode(self, texts, *, batch_size=64) -> np.ndarray:
            if len(texts) > 3:
                raise OSError(28, "No space left on device")
            return super().encode(texts, batch_size=batch_size)

    engine = make_engine(HashingEncoder())
    before_dir, before_ids = engine.index.directory, sorted(engine.index.articles)
    updated = articles()[0]
    engine.ingest_article(updated)
    saved = (engine.settings.articles_dir / f"{updated.id}.md").read_bytes()
    engine._encoder = FailsOnBigBatches()
    with pytest.raises(OSError, match="No space"):
        engine.ingest_articles(articles())
    assert engine.index.directory != before_dir  # the one good ingest is still served
    assert sorted(engine.index.articles) == sorted([*before_ids, updated.id])
    files = sorted(p.name for p in engine.settings.articles_dir.glob("*.md"))
    assert files == [f"{updated.id}.md"]  # the new files are gone
    assert (engine.settings.articles_dir / f"{updated.id}.md").read_bytes() == saved


def test_a_full_disk_while_writing_is_one_clear_error(make_engine, hashing_encoder, monkeypatch):
    import retrieval.segment as segment_module

    engine = make_engine(hashing_encoder)
    before = engine.index.directory

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segment_module, "write_records", disk_full)
    with pytest.raises(StorageError, match="no space left on the data disk"):
        engine.ingest_articles(articles())
    assert engine.index.directory == before
    assert not list(engine.settings.articles_dir.glob("*.md"))


def test_an_article_whose_file_cannot_be_saved_is_refused_alone(
    make_engine, hashing_encoder
) -> None:
    """One article's own fault (here a folder where its file goes) refuses that article, with
    its reason; the rest of the batch goes in, in one build."""
    engine = make_engine(hashing_encoder)
    batch = articles()
    blocked = engine.settings.articles_dir / f"{batch[1].id}.md"
    blocked.mkdir(parents=True)
    outcomes = engine.ingest_articles(batch)
    assert isinstance(outcomes[1], StorageError)
    assert str(outcomes[1]) == "could not save the article in the data directory: Is a directory"
    assert [o.status for n, o in enumerate(outcomes) if n != 1] == ["added"] * (len(FILES) - 1)
    assert batch[1].id not in engine.index.articles and blocked.is_dir()
    assert sorted(p.name for p in engine.settings.articles_dir.glob("*.md") if p.is_file()) == (
        sorted(f"{a.id}.md" for n, a in enumerate(batch) if n != 1)
    )
