"""Passages keep exact offsets; long paragraphs split at sentence boundaries; dates resolve."""

from __future__ import annotations

import datetime as dt

from corpus.articles import parse_article
from corpus.dates import annotate_dates, resolve_relative_dates
from corpus.passages import MAX_PASSAGE_WORDS, sentence_spans, split_passages

LONG = " ".join(
    f"Mr. Smith of the U.S. delegation said point {i} was settled on Jan. {i + 1} in Washington."
    for i in range(20)
)


def article(body: str):
    data = f"---\ntitle: T\nsource: S\ndate: 2018-09-11\n---\n\n{body}\n".encode()
    return parse_article(data, "a.md", max_bytes=1_000_000)


def body(a):
    """The passages of the article's paragraphs (its headline, passage 0, left out)."""
    return [p for p in split_passages(a) if not p.is_headline]


def test_offsets_quote_the_article_exactly() -> None:
    a = article("First paragraph is here now.\n\nSecond one, with U.S. in it. And more.\n\n" + LONG)
    headline, *body = split_passages(a)
    # The headline is a passage of its own, quoting the title (not the article's text).
    assert headline.is_headline and headline.text == a.title == headline.sentence_texts()[0]
    for passage in body:
        assert not passage.is_headline
        assert a.text[passage.start : passage.end] == passage.text
        for start, end in passage.sentences:
            assert passage.start <= start < end <= passage.end
            assert a.text[start:end].strip() == a.text[start:end]


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    a = article(LONG)
    passages = body(a)
    assert len(passages) > 1
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS for p in passages)
    assert all(p.paragraph == 1 for p in passages)
    assert [p.part for p in passages] == list(range(len(passages)))
    assert all(p.text.endswith("Washington.") for p in passages)
    assert " ".join(p.text for p in passages) == LONG


def test_sentence_splitter_knows_abbreviations() -> None:
    text = "The U.S. and Mr. Trudeau met on Jan. 5 in Washington. Talks went well."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "The U.S. and Mr. Trudeau met on Jan. 5 in Washington.",
        "Talks went well.",
    ]


def test_weekdays_resolve_to_the_most_recent_day_on_or_before_publication() -> None:
    tuesday = dt.date(2018, 9, 11)
    found = {
        d.word: d.date
        for d in resolve_relative_dates("He spoke on Friday and again Tuesday.", tuesday)
    }
    assert found == {"Friday": dt.date(2018, 9, 7), "Tuesday": tuesday}
    assert (
        annotate_dates("Kudlow said on Friday.", tuesday) == "Kudlow said on Friday (2018-09-07)."
    )
    assert annotate_dates("last Tuesday", tuesday) == "last Tuesday (2018-09-04)"
    assert annotate_dates("Talks resume yesterday", tuesday).endswith("(2018-09-10)")
    assert annotate_dates("on Friday", None) == "on Friday"
    assert (
        annotate_dates("on Sunday", dt.date(2018, 10, 1), spelled=True)
        == "on Sunday (September 30, 2018)"
    )


def test_a_run_on_sentence_longer_than_a_passage_is_cut_between_words() -> None:
    run_on = " ".join(f"word{i}" for i in range(700)) + "."
    a = article(run_on)
    passages = body(a)
    assert len(passages) == -(-700 // MAX_PASSAGE_WORDS)
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS for p in passages)
    assert " ".join(p.text for p in passages) == run_on


def test_list_items_are_sentences_of_their_own() -> None:
    a = article(
        "The issues still open:\n- Dairy: Ottawa offers quotas. It won't go further.\n"
        "- Autos: content rules.\n\n"
        "Late issues • Steel: duties stay. • Term: sixteen years.\n\n"
        "WASHINGTON • The two sides met again on Monday."
    )
    sentences = [s for p in body(a) for s in p.sentence_texts(a.text)]
    assert sentences == [
        "The issues still open:",
        "Dairy: Ottawa offers quotas.",
        "It won't go further.",
        "Autos: content rules.",
        "Late issues",
        "Steel: duties stay.",
        "Term: sixteen years.",
        "WASHINGTON • The two sides met again on Monday.",  # a dateline, not a list
    ]
