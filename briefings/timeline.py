"""Putting an issue's sentences in order: one copy of each wire sentence, each with a date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

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


def group_copies(items: list[IssueSentence]) -> list[SentenceGroup]:
    """Fold sentences repeated by several outlets into one group, quoting the earliest
    (original) copy. Groups come out in the original's order: oldest article first."""
    kept: list[IssueSentence] = []
    copies: list[list[IssueSentence]] = []
    texts: list[str] = []  # normalised text of each kept sentence
    by_passage: dict[int, list[int]] = {}  # original passage row -> kept sentences from it
    for item in sorted(items, key=_original_first):
        ref = item.sentence
        text = normalize_for_search(ref.text).lower()
        group = next(
            (
                g
                for g in by_passage.get(ref.original_row, ())
                if kept[g].sentence.article.id != ref.article.id
                and fuzz.ratio(text, texts[g]) >= LINKED_SIMILARITY
            ),
            None,
        )
        if group is None and texts:
            best = process.extractOne(
                text, texts, scorer=fuzz.ratio, score_cutoff=UNLINKED_SIMILARITY
            )
            if best and kept[best[2]].sentence.article.id != ref.article.id:
                group = best[2]
        if group is None:
            by_passage.setdefault(ref.original_row, []).append(len(kept))
            kept.append(item)
            copies.append([])
            texts.append(text)
        else:
            copies[group].append(item)
    return [SentenceGroup(k, tuple(c)) for k, c in zip(kept, copies, strict=True)]


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
