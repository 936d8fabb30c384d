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


# -- explicit dates: "May 10, 2019", "Dec. 1", "March 2018", "in 2019", "last year" -----------

_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_EXPLICIT = re.compile(
    rf"\b{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?"
    rf"|\b(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH.replace('month', 'month2')}"
    r"(?:,?\s+(?P<year2>(?:19|20)\d\d)\b)?"
    rf"|\b{_MONTH.replace('month', 'month3')}(?:\s+of)?,?\s+(?P<year3>(?:19|20)\d\d)\b"
    r"|\b(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)\b"
    r"|\b(?P<year4>(?:19|20)\d\d)\b"
    r"|\b(?P<rel>last|this|next)\s+(?P<unit>year|month)\b",
    re.IGNORECASE,
)
# A month alone counts only after a preposition ("in May", "since March"): "may" is a verb too.
_MONTH_ALONE = re.compile(
    rf"\b(?:in|since|by|during|until|from|early|late|mid|of|last|this|next)[- ]+{_MONTH}(?![\w-])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateMention:
    """A date named in text, as the range of days it covers (a day, a month or a year)."""

    start: int
    end: int
    first: dt.date
    last: dt.date

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.first <= last and first <= self.last


def _month_number(word: str) -> int:
    word = word.lower().rstrip(".")
    return next(i for i, name in enumerate(_MONTH_NAMES, 1) if name.startswith(word[:3]))


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, 1), following - dt.timedelta(days=1)


def _years_near(
    month: int, day: int | None, published: dt.date | None, years: range | None
) -> list[int]:
    """The year of a month (and day) named without one: the publication year, or the year
    before when that would put the date more than a month after publication. Text with no
    publication date (a question) means that month in any of `years`."""
    if published is None:
        return list(years or ())
    guess = dt.date(published.year, month, min(day or 1, 28))
    return [published.year - 1 if guess > published + dt.timedelta(days=31) else published.year]


_PREPOSITION_BEFORE = re.compile(r"\b(?:in|on|since|by|of|until|from|before|after)\s+$", re.I)


def date_mentions(
    text: str, published: dt.date | None = None, *, years: range | None = None
) -> list[DateMention]:
    """Explicit dates in `text` ("May 10, 2019", "Dec. 1", "March 2018", "2019", "last year"),
    plus resolved weekdays ("on Friday"), each as the span of days it names. A month or day
    without a year takes it from `published`, or (a question) from each of `years`."""
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, first: dt.date, last: dt.date) -> None:
        found.append(DateMention(start, end, first, last))
        taken.append((start, end))

    def plausible(m: re.Match[str], word: str) -> bool:
        # "may 10 times": a lower-case "may"/"march" is a month only after a preposition.
        return word[:1].isupper() or bool(_PREPOSITION_BEFORE.search(text[: m.start()]))

    for m in _EXPLICIT.finditer(text):
        try:
            month_word = m.group("month") or m.group("month2") or m.group("month3")
            if m.group("iso"):
                day = dt.date.fromisoformat(m.group("iso"))
                add(m.start(), m.end(), day, day)
            elif month_word and (m.group("day") or m.group("day2")):
                month = _month_number(month_word)
                day_number = int(m.group("day") or m.group("day2"))
                year_text = m.group("year") or m.group("year2")
                if not year_text and not plausible(m, month_word):
                    continue
                for year in (
                    [int(year_text)]
                    if year_text
                    else _years_near(month, day_number, published, years)
                ):
                    day = dt.date(year, month, day_number)
                    add(m.start(), m.end(), day, day)
            elif month_word:
                add(
                    m.start(),
                    m.end(),
                    *_month_range(int(m.group("year3")), _month_number(month_word)),
                )
            elif m.group("year4"):
                year = int(m.group("year4"))
                add(m.start(), m.end(), dt.date(year, 1, 1), dt.date(year, 12, 31))
            elif m.group("rel") and published is not None:
                shift = {"last": -1, "this": 0, "next": 1}[m.group("rel").lower()]
                if m.group("unit").lower() == "year":
                    year = published.year + shift
                    add(m.start(), m.end(), dt.date(year, 1, 1), dt.date(year, 12, 31))
                else:
                    index = published.year * 12 + published.month - 1 + shift
                    add(m.start(), m.end(), *_month_range(index // 12, index % 12 + 1))
        except ValueError:  # "February 30": not a date
            continue
    for m in _MONTH_ALONE.finditer(text):
        if any(s <= m.start("month") < e for s, e in taken):
            continue
        month = _month_number(m.group("month"))
        for year in _years_near(month, None, published, years):
            add(m.start("month"), m.end("month"), *_month_range(year, month))
    for resolved in resolve_relative_dates(text, published):
        if not any(s <= resolved.start < e for s, e in taken):
            add(resolved.start, resolved.end, resolved.date, resolved.date)
    return sorted(found, key=lambda d: d.start)
