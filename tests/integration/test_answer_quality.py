"""How answers read with several articles loaded, with the real model: abstention from
evidence, vocabulary the articles hold in another form, dated and "in the end" questions, broad
questions as dated points, "who is X?", per-article citations and list items.

The corpus is the committed multi-article fixtures (seven NAFTA articles written for the
project, a wire story published twice) plus a list-shaped article (tests/fixtures/lists/)."""

from __future__ import annotations

import re

import pytest
from conftest import ARTICLES, FIXTURES

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine(real_encoder, tmp_path_factory):
    from config.settings import Settings
    from tradetalk.engine import Engine

    root = tmp_path_factory.mktemp("quality")
    (root / "none").mkdir()
    built = Engine(
        Settings(data_dir=root / "data", bundled_dir=root / "none"), encoder=real_encoder
    )
    built.open()
    for path in [*sorted(ARTICLES.iterdir()), *sorted((FIXTURES / "lists").glob("*.md"))]:
        built.ingest_path(path)
    return built


# The decline model fitted leaving one negotiation out weighs a noun no article has less than
# the one fitted on the tune halves did (p 0.80 and 0.69 here against a threshold of 0.83):
# across six negotiations such a word is as often another word for something the articles
# say ("supply management", "top diplomat") as a thing they lack (docs/RETRIEVAL.md).
UNKNOWN_NOUN_MISS = pytest.mark.xfail(
    strict=False, reason="an unknown noun alone no longer declines (docs/RETRIEVAL.md)"
)


@pytest.mark.parametrize(
    "question",
    [
        "who won the stanley cup in 2018?",
        "anyone got a good butter tart recipe?",
        "how do i reset my router",
    ],
)
def test_off_topic_questions_are_declined_with_several_articles_loaded(engine, question):
    answer = engine.ask(question)
    assert answer.abstained, (answer.text, answer.reason)
    assert answer.citations == ()


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("what's the duty on softwood lumber right now?", marks=UNKNOWN_NOUN_MISS),
        pytest.param("who is canada's ambassador in washington?", marks=UNKNOWN_NOUN_MISS),
        "what did kudlow say about milk?",
    ],
)
def test_near_topic_questions_no_article_answers_are_declined(engine, question):
    """A thing no article mentions (softwood), a role none gives (an ambassador), a person who
    says nothing in them (Kudlow is in none of these articles). Not every such question is
    declined: "what tariff did canada slap on american whiskey?" is still answered with an
    unrelated tariff sentence (docs/RETRIEVAL.md lists what still fails)."""
    answer = engine.ask(question)
    assert answer.abstained, (answer.text, answer.reason)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # "Canadian" where the articles say "Canada" and "Ottawa".
        ("what did the canadian side give up on dairy in the end?", "dairy"),
        # An outlet's name is in the article's metadata, not in its text.
        ("what did the Bay Street Bulletin report about dairy?", "dairy"),
        # "sticking points" is an idiom the sentence model reads poorly.
        ("what are the sticking points?", ""),
    ],
)
def test_words_the_articles_hold_in_another_form_never_trigger_a_refusal(
    engine, question, expected
):
    answer = engine.ask(question)
    assert not answer.abstained, answer.reason
    assert expected in answer.text.lower()


def test_a_dated_question_is_answered_from_that_date(engine) -> None:
    """Every sentence is of Aug. 27: published that day with no other date in it, or naming
    a day that resolves to it."""
    answer = engine.ask("what happened on aug 27?")
    assert not answer.abstained, answer.reason
    for sentence in answer.sentences:
        named = {iso for _, iso in sentence.dates}
        assert "2018-08-27" in named or (sentence.published == "2018-08-27" and not named), sentence


def test_in_the_end_questions_are_answered_from_the_newest_coverage(engine) -> None:
    answer = engine.ask("in the end, how much of its dairy market did canada open up?")
    assert not answer.abstained, answer.reason
    assert "3.6 percent" in answer.text
    first = answer.sentences[0].published
    assert first is not None and first >= "2018-10-01"


def test_a_broad_question_gets_dated_points_from_several_articles_newest_first(engine) -> None:
    answer = engine.ask("what's the latest on dairy?")
    assert not answer.abstained, answer.reason
    assert answer.points
    by_article = [c.article_id for c in answer.citations]
    assert len(by_article) >= 2 and len(set(by_article)) == len(by_article)
    dated = [s.published for s in answer.sentences if s.published]
    assert dated == sorted(dated, reverse=True)


def test_who_is_x_is_answered_by_the_sentence_giving_the_role(engine) -> None:
    answer = engine.ask("who is Verheul?")
    assert not answer.abstained, answer.reason
    assert "deputy minister and chief negotiator" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "what does the U.S. want on autos?",
        "what happened with the dispute panels?",
        "what's the latest on dairy?",
        "why did Trump refuse to meet Trudeau?",
    ],
)
def test_citations_are_one_per_article_and_name_their_paragraphs(engine, question) -> None:
    answer = engine.ask(question)
    assert not answer.abstained, answer.reason
    ids = [c.article_id for c in answer.citations]
    assert len(ids) == len(set(ids))  # two quotes from one article are one citation
    numbers = {c.number for c in answer.citations}
    assert {s.citation for s in answer.sentences} == numbers
    for citation in answer.citations:
        assert len(citation.paragraphs) == len(citation.passage_ids) >= 1


def test_a_list_item_is_quoted_as_a_sentence_of_its_own(engine) -> None:
    answer = engine.ask("what does washington want on car content?")
    assert not answer.abstained, answer.reason
    item = (
        "Autos: Washington wants 75 percent of a car's content made in North America, up from "
        "62.5 percent, before it can cross the border duty free."
    )
    assert item in [s.text for s in answer.sentences]
    for sentence in answer.sentences:
        assert "•" not in sentence.text and "\n" not in sentence.text
        assert "Dairy:" not in sentence.text or sentence.text.startswith("Dairy:")


def test_inline_bullets_are_sentences_too_and_no_word_is_cut(engine) -> None:
    answer = engine.ask("what do canadian officials want on the metals duties?")
    assert not answer.abstained, answer.reason
    assert any(s.text.startswith("Steel: Canadian officials want") for s in answer.sentences)
    article_words = set()
    for hit in answer.hits:
        article_words |= set(re.findall(r"[\w'’-]+", hit.record.text))
    for sentence in answer.sentences:
        assert len(sentence.text) <= 600
        assert set(re.findall(r"[\w'’-]+", sentence.text)) <= article_words  # no cut word
