"""Several articles, outlets and dates, with a wire story published twice (fixtures written
for this project), searched with the real model."""

from __future__ import annotations

import pytest
from conftest import ARTICLES, FIXTURES

from tradetalk.evaluate import load_questions, score
from tradetalk.render import answer_json

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def fixture_engine(real_encoder, tmp_path_factory):
    from config.settings import Settings
    from tradetalk.engine import Engine

    root = tmp_path_factory.mktemp("multi")
    (root / "none").mkdir()
    engine = Engine(
        Settings(data_dir=root / "data", bundled_dir=root / "none"), encoder=real_encoder
    )
    engine.open()
    for path in sorted(ARTICLES.iterdir()):
        engine.ingest_path(path)
    return engine


def test_development_questions_stay_above_their_measured_floor(fixture_engine) -> None:
    """Regression floor at the figures measured when retrieval was tuned (docs/RETRIEVAL.md);
    these questions are deliberately hard (paraphrase, slang, dates)."""
    items = load_questions(FIXTURES / "eval" / "multi_questions.jsonl")
    metrics = score(items, lambda q: answer_json(fixture_engine.ask(q)))
    misses = metrics.pop("misses")
    assert metrics["R@3"] >= 0.8, misses
    assert metrics["MRR"] >= 0.6, misses
    assert metrics["answer_hit"] >= 0.6, misses
    assert metrics["false_abstain"] <= 0.06, misses
    assert metrics["long_passages"] == 0 and metrics["long_answers"] == 0


def test_the_wire_copy_is_recognised_and_does_not_crowd_results(fixture_engine) -> None:
    articles = {a.source: a for a in fixture_engine.articles()}
    copy = articles["Lakeshore Daily"]
    assert copy.duplicate_of == articles["Continental Press (wire)"].id
    answer = fixture_engine.ask("Why did Trump refuse to meet Trudeau?")
    texts = [hit.record.text for hit in answer.hits]
    sources = [hit.article.source for hit in answer.hits]
    assert len(set(texts)) == len(texts)
    assert not {"Lakeshore Daily", "Continental Press (wire)"} <= set(sources[:2])
    assert any(hit.also_in for hit in answer.hits)


def test_a_date_in_the_question_finds_the_relative_date_in_the_text(fixture_engine) -> None:
    """ "late Sunday" in an article of Monday 2018-10-01 is September 30."""
    result = fixture_engine.search("what happened on sept 30?", k=3)
    assert any("late Sunday" in hit.record.text for hit in result.hits)


def test_html_boilerplate_never_answers(fixture_engine) -> None:
    for question in ("most read stories", "cookie settings", "subscribe to the newsletter"):
        answer = fixture_engine.ask(question)
        shown = answer.text + " ".join(h.record.text for h in answer.hits)
        assert "cookie" not in shown.lower() and "newsletter" not in shown.lower()
