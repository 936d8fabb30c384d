"""Resolving relative dates in news prose ("on Friday", "yesterday") from the article's date.

News convention: a bare weekday names the most recent such day on or before publication."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(
    r"\b(?:(?P<last>last|this|next|on|late|early)\s+)?(?P<day>Monday|Tuesday|Wednesday|Thursday|"
    r"Friday|Saturday|Sunday)\b|\b(?P<word>today|yesterday|tonight|tomorrow)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResolvedDate:
    start: int  # span of the expression's day word in the text
    end: int
    word: str
    date: dt.date


def resolve_relative_dates(text: str, published: dt.date | None) -> list[ResolvedDate]:
    """Every weekday / today / yesterday in `text`, with the calendar date it means."""
    if published is None:
        return []
    found = []
    for match in _RELATIVE.finditer(text):
        if match.group("day"):
            day = match.group("day")
            if not day[0].isupper():
                continue  # "friday" in lower case is more likely a name or a typo than a date
            target = _WEEKDAYS.index(day.lower())
            back = (published.weekday() - target) % 7
            if (match.group("last") or "").lower() == "next":
                date = published + dt.timedelta(days=(target - published.weekday()) % 7 or 7)
            else:
                if (match.group("last") or "").lower() == "last" and back == 0:
                    back = 7
                date = published - dt.timedelta(days=back)
            found.append(ResolvedDate(match.start("day"), match.end("day"), day, date))
        else:
            word = match.group("word")
            shift = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}[word.lower()]
            found.append(
                ResolvedDate(
                    match.start("word"),
                    match.end("word"),
                    word,
                    published + dt.timedelta(days=shift),
                )
            )
    return found


def annotate_dates(text: str, published: dt.date | None, *, spelled: bool = False) -> str:
    """`text` with each relative date followed by its date: "on Friday (2018-09-07)", or with
    `spelled`, "on Friday (September 7, 2018)" (the form searched, so "sept 7" finds it)."""
    out, cursor = [], 0
    for found in resolve_relative_dates(text, published):
        d = found.date
        out.append(text[cursor : found.end])
        out.append(f" ({d.strftime('%B')} {d.day}, {d.year})" if spelled else f" ({d.isoformat()})")
        cursor = found.end
    out.append(text[cursor:])
    return "".join(out)
