"""Reading a question: its kind, focus, dates, recency; dates named in sentences; the
vocabulary that makes "Canadian" find "Canada"; idioms in plain words."""

from __future__ import annotations

import datetime as dt

import pytest

from corpus.dates import date_mentions
from retrieval.question_analysis import NEWEST, OLDEST, analyze_question, question_kind
from retrieval.tokenize import tokenize
from retrieval.vocabulary import covers, equivalents, plain_words

YEARS = range(2018, 2021)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("who's china's top negotiator?", "who"),
        ("whos running canada's side", "who"),
        ("when did the tariffs kick in?", "when"),
        ("what's the deadline?", "when"),
        ("how much are the tariffs now", "how-much"),
        ("what percentage of the market did they get", "how-much"),
        ("why did talks collapse", "why"),
        ("how come china backed out?", "why"),
        ("did china buy more soybeans?", "yes-no"),
        ("so is there a deal or not", "yes-no"),
        ("what happened in may 2019?", "what-happened"),
        ("any news on dairy?", "what-happened"),
        ("what are the main sticking points", "list"),
        ("what does canada want on dairy?", "what"),
    ],
)
def test_the_kind_of_question(question: str, kind: str) -> None:
    assert question_kind(question) == kind


def test_the_focus_leaves_out_question_words_dates_and_asides() -> None:
    a = analyze_question("what did Ottawa say about dairy in March 2018? (asking for a friend)")
    assert a.focus == ("ottawa", "dairi")
    assert a.scope is not None and a.scope.label == "March 2018"
    assert a.scope.ranges == ((dt.date(2018, 3, 1), dt.date(2018, 3, 31)),)


def test_a_month_without_a_year_means_that_month_of_any_covered_year() -> None:
    a = analyze_question("what did beijing say in march?", years=YEARS)
    assert [first.year for first, _ in a.scope.ranges] == [2018, 2019, 2020]
    assert all(first.month == 3 for first, _ in a.scope.ranges)


def test_last_week_counts_from_today() -> None:
    a = analyze_question("what happened last week?", today=dt.date(2019, 5, 15))
    assert a.scope.ranges == ((dt.date(2019, 5, 8), dt.date(2019, 5, 15)),)
    assert a.focus == ()


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("in the end did the panels survive?", NEWEST),
        ("where do things stand now?", NEWEST),
        ("so did china actually buy more?", NEWEST),
        ("what's the latest on autos", NEWEST),
        ("what did canada want when talks started?", OLDEST),
        ("what was the us asking for at first?", OLDEST),
        ("what does canada want on dairy?", None),
        ("what happened in may 2019?", None),  # a named date, not "the latest"
    ],
)
def test_recency(question: str, order: str | None) -> None:
    assert analyze_question(question, years=YEARS).order == order


def test_who_is_says_what_was_asked_about_and_what_did_x_say_names_the_speaker() -> None:
    assert analyze_question("who is Lighthizer?").subject == "Lighthizer"
    assert analyze_question("what did peter navarro say about the deal?").speaker == (
        "peter navarro"
    )
    assert analyze_question("how many dairy farms are there in canada?").counted == "farm"
    assert analyze_question("how much did the deal cost?").counted is None


def test_a_follow_up_keeps_the_earlier_focus_and_dates() -> None:
    earlier = analyze_question("what did canada offer on dairy in september 2018?")
    follow = analyze_question("and the americans?").following(earlier)
    assert follow.focus[: len(analyze_question("and the americans?").focus)] == ("american",)
    assert "dairi" in follow.focus and follow.context_focus == ("canada", "offer", "dairi")
    assert follow.scope == earlier.scope


def test_dates_named_in_sentences() -> None:
    published = dt.date(2019, 5, 10)
    spans = {
        (m.first, m.last)
        for m in date_mentions(
            "On May 10, 2019 tariffs rose; talks resume Dec. 1 and next month; "
            "officials met on Friday. It may rise 10 times.",
            published,
        )
    }
    assert (dt.date(2019, 5, 10), dt.date(2019, 5, 10)) in spans
    assert (dt.date(2018, 12, 1), dt.date(2018, 12, 1)) in spans  # before publication
    assert (dt.date(2019, 6, 1), dt.date(2019, 6, 30)) in spans  # "next month"
    assert len([s for s in spans if s[0] == s[1] == dt.date(2019, 5, 10)]) == 1  # Friday
    assert all(first.day != 10 or first.month == 5 for first, _ in spans)  # "may rise 10"


@pytest.mark.parametrize(
    ("asked", "present"),
    [
        ("canadian", "canada"),
        ("Beijing", "china"),
        ("americans", "us"),
        ("rep", "representative"),
        ("PM", "prime minister"),
    ],
)
def test_equivalents_cover_a_word_the_articles_spell_another_way(asked, present) -> None:
    (stem,) = tokenize(asked)
    assert equivalents(stem)
    assert covers(stem, frozenset(tokenize(present)))


def test_idioms_are_searched_in_plain_words() -> None:
    assert plain_words("what are the sticking points?") == "what are the issues in dispute?"
    assert "raise" in plain_words("why did trump jack up tariffs")
    assert "take effect" in plain_words("when did it kick in?")
    assert plain_words("what does canada want on dairy?") == "what does canada want on dairy?"
