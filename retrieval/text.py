"""The searchable form of article text (shared by embedding and BM25)."""

from __future__ import annotations

import datetime as dt

from corpus.dates import annotate_dates
from corpus.normalize import normalize_for_search


def search_text(text: str, date: dt.date | str | None) -> str:
    """What is embedded and tokenised for a passage or sentence: normalised, with relative
    dates spelled out ("on Sunday (September 30, 2018)") so a question naming the date finds it."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return normalize_for_search(annotate_dates(text, date, spelled=True))
