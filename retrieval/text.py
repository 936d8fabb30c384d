"""The searchable form of article text (shared by embedding and BM25)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from corpus.dates import annotate_dates
from corpus.normalize import normalize_for_search
from retrieval.tokenize import tokenize


def search_text(text: str, date: dt.date | str | None) -> str:
    """What is embedded and tokenised for a passage or sentence: normalised, with relative
    dates spelled out ("on Sunday (September 30, 2018)") so a question naming the date finds it."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return normalize_for_search(annotate_dates(text, date, spelled=True))


def passage_terms(text: str, date: dt.date | str | None, title: str) -> list[str]:
    """BM25 terms of a passage: its text with dates spelled out, plus its article's title
    (a passage often leaves out the topic its headline names)."""
    return tokenize(search_text(text, date)) + tokenize(title)


@lru_cache(maxsize=50_000)
def term_set(text: str, date: dt.date | str | None, title: str = "") -> frozenset[str]:
    """The distinct terms of `passage_terms`, remembered: answering re-reads the same few
    candidate passages and sentences question after question, and tokenising them again was a
    third of the time an answer took beyond encoding the question (see docs/PERFORMANCE.md)."""
    return frozenset(passage_terms(text, date, title))
