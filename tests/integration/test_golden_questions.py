"""The development questions on the bundled corpus, with the real model: R@3 = 1.0,
answer_hit >= 0.9, every unanswerable question abstained and no answerable one."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, SHARED_EVAL

from tradetalk.evaluate import load_questions, score
from tradetalk.render import answer_json

pytestmark = pytest.mark.model
# A copy of ../shared/eval/seed_questions.jsonl, so CI runs it on a clean clone.
QUESTIONS = FIXTURES / "eval" / "seed_questions.jsonl"


@pytest.fixture(scope="module")
def seed_engine(real_encoder, tmp_path_factory):
    from config.settings import Settings
    from tradetalk.engine import Engine

    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("golden")), encoder=real_encoder)
    engine.open()
    return engine


def test_the_copy_matches_the_shared_questions() -> None:
    shared = SHARED_EVAL / "seed_questions.jsonl"
    if not shared.exists():
        pytest.skip("../shared is not next to this checkout")
    assert QUESTIONS.read_bytes() == shared.read_bytes()


def test_golden_questions(seed_engine) -> None:
    metrics = score(load_questions(QUESTIONS), lambda q: answer_json(seed_engine.ask(q)))
    misses = metrics.pop("misses")
    assert metrics["R@3"] == 1.0, misses
    assert metrics["answer_hit"] >= 0.9, misses
    assert metrics["false_abstain"] == 0.0, misses
    assert metrics["abstain_recall"] == 1.0, misses
    assert metrics["long_passages"] == 0 and metrics["long_answers"] == 0


def test_answers_are_verbatim_and_cited(seed_engine) -> None:
    answer = seed_engine.ask("What does the U.S. want to do with the Chapter 19 dispute panels?")
    assert not answer.abstained
    article_text = "\n\n".join(h.record.text for h in answer.hits)
    for sentence in answer.sentences:
        assert sentence.text in article_text  # quoted exactly, never rewritten
    citation = answer.citations[0]
    assert citation.title.startswith("Trump says NAFTA deal")
    assert citation.source == "BNN Bloomberg (Bloomberg News)"
    assert citation.date == "2018-09-11"
    assert citation.url.startswith("https://www.bnnbloomberg.ca/")
    assert "wants to remove" in answer.text


def test_relative_dates_are_resolved_for_display(seed_engine) -> None:
    from tradetalk.render import answer_text

    answer = seed_engine.ask("Who said milk is blocking the deal?")
    assert ("Friday", "2018-09-07") in [d for s in answer.sentences for d in s.dates]
    assert "Friday (2018-09-07)" in answer_text(answer)
    assert "Friday (2018-09-07)" not in answer.text  # the JSON answer stays verbatim


def test_unanswerable_says_so_and_names_what_is_covered(seed_engine) -> None:
    answer = seed_engine.ask("Who won the 2018 World Cup?")
    assert answer.abstained and not answer.sentences
    assert "don't cover" in answer.text
    assert "Trump says NAFTA deal" in answer.text  # what the articles are about


def test_page_furniture_is_never_a_passage_or_answer(seed_engine) -> None:
    for question in ("What should Canada do at the NAFTA negotiating table?", "poll results"):
        answer = seed_engine.ask(question)
        shown = answer.text + " ".join(h.record.text for h in answer.hits)
        assert "poll image" not in shown and "Total Results" not in shown


def test_follow_up_uses_the_previous_question(seed_engine) -> None:
    alone = seed_engine.search("and what about him?")
    followed = seed_engine.search("and what about him?", previous="Who is Lighthizer?")
    assert "Lighthizer" not in alone.hits[0].record.text
    assert "Lighthizer" in followed.hits[0].record.text
