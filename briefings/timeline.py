"""Putting an issue's sentences in order: one copy of each wire sentence, each with a date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from briefings.matching import IssueSentence, SentenceRef
from corpus.dates import resolve_relative_dates
from corpus.normalize import normalize_for_search

# Sentence copies: same wire passage and mostly the same words (an edited wire sentence, such as
# "escalating a public feud four days before" -> "deepening a public rift four days ahead of",
# stays one development), or nearly the same words anywhere.
LINKED_SIMILARITY = 80.0
UNLINKED_SIMILARITY = 92.0
# "by Sunday", "until Friday": a deadline, not the day something happened.
_DEADLINE = re.compile(r"\b(?:by|until|till|before|ahead of|next)\s+(?:late\s+|early\s+)?$", re.I)


@dataclass(frozen=True)
class SentenceGroup:
    """One development: the sentence quoted, plus the other articles carrying a copy of it."""

    item: IssueSentence
    copies: tuple[IssueSentence, ...]

    @property
    def sentence(self) -> SentenceRef:
        return self.item.sentence


def _published(ref: SentenceRef) -> dt.date | None:
    return dt.date.fromisoformat(ref.article.date) if ref.article.date else None


def _original_first(item: IssueSentence) -> tuple:
    a = item.sentence.article
    return (a.date or "9999", a.duplicate_of is not None, a.id, item.sentence.order)


def _same(a: SentenceRef, b: SentenceRef) -> bool:
    if a.article.id == b.article.id:
        return False
    score = fuzz.ratio(normalize_for_search(a.text).lower(), normalize_for_search(b.text).lower())
    linked = a.original_row == b.original_row
    return score >= (LINKED_SIMILARITY if linked else UNLINKED_SIMILARITY)


def group_copies(items: list[IssueSentence]) -> list[SentenceGroup]:
    """Fold sentences repeated by several outlets into one group, quoting the earliest
    (original) copy. Groups come out in the original's order: oldest article first."""
    groups: list[tuple[IssueSentence, list[IssueSentence]]] = []
    for item in sorted(items, key=_original_first):
        for kept, copies in groups:
            if _same(kept.sentence, item.sentence):
                copies.append(item)
                break
        else:
            groups.append((item, []))
    return [SentenceGroup(kept, tuple(copies)) for kept, copies in groups]


def resolved_dates(ref: SentenceRef) -> tuple[tuple[str, str], ...]:
    """(word, ISO date) for each relative date in the sentence ("Friday", "2018-09-07")."""
    return tuple(
        (found.word, found.date.isoformat())
        for found in resolve_relative_dates(ref.text, _published(ref))
    )


def event_date(ref: SentenceRef) -> tuple[dt.date | None, str]:
    """When the sentence's development happened, and what says so: its first relative date
    that is not a deadline ("on Friday" in a Tuesday article is the Friday before), else the
    article's date."""
    published = _published(ref)
    for found in resolve_relative_dates(ref.text, published):
        if _DEADLINE.search(ref.text[max(0, found.start - 12) : found.start]):
            continue
        if published and found.date > published:
            continue
        return found.date, found.word
    return published, "published"
