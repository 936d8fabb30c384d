"""Which sentences of the index are about which issue.

A sentence is about an issue when it names one of the issue's terms (stemmed words or phrases
from the catalogue), or, naming no issue's terms, its vector is close to the issue's
description and clearly closer than to any other issue's. A term that only appears in an
opening aside ("Besides dairy, …") does not count."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from briefings.catalogue import Catalogue, Issue
from briefings.positions import Mention, Stance, StanceReader, aside_span, stance_issues
from corpus.parsing import SentenceParse
from corpus.passages import HEADLINE
from retrieval.index import PassageIndex
from retrieval.records import ArticleInfo
from retrieval.tokenize import tokenize

# Calibrated on the fixture articles (tests/fixtures/articles and the bundled article): every
# sentence that names no issue term and scores >= 0.5 against an issue description is about
# that issue; below it are general talks sentences ("the U.S. and Canada continued to look for
# ways to bridge their differences", 0.48 against the fast-track issue).
MEANING_THRESHOLD = 0.5
MEANING_MARGIN = 0.05  # over the second-closest issue
TERM_BONUS = 0.05  # relevance added per distinct issue term in the sentence (up to 3)
SIMILARITY_CHUNK = 65_536  # sentence rows multiplied at a time


@dataclass(frozen=True)
class SentenceRef:
    """One sentence of the index and where it comes from."""

    text: str  # verbatim
    article: ArticleInfo
    passage_id: str
    passage_row: int
    original_row: int  # the passage this one near-duplicates (dup_of), else passage_row
    order: tuple[int, int, int]  # paragraph, part, sentence: reading order in the article
    # Its parse from the index, and the parses before it in its passage (whom "he" means).
    parse: SentenceParse | None = field(default=None, compare=False, repr=False)
    before: tuple[SentenceParse, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class IssueSentence:
    """A sentence about one issue, with the stances it states about that issue."""

    sentence: SentenceRef
    issue_id: str
    relevance: float  # similarity to the issue plus a bonus for naming its terms
    terms: tuple[str, ...]  # issue terms named (empty: matched by meaning)
    stances: tuple[Stance, ...]


class TermMatcher:
    """Finds catalogue terms in text, compared as stemmed token sequences."""

    def __init__(self, issues: list[Issue]) -> None:
        self._by_first: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
        for issue in issues:
            for term in issue.terms:
                stems = tuple(tokenize(term))
                if stems:
                    self._by_first.setdefault(stems[0], []).append((issue.id, stems, term))

    def find(self, stems: list[str]) -> Iterator[tuple[str, str, int, int]]:
        """(issue id, term, first token, end token) for every term occurrence."""
        for i, stem in enumerate(stems):
            for issue_id, term_stems, term in self._by_first.get(stem, ()):
                if tuple(stems[i : i + len(term_stems)]) == term_stems:
                    yield issue_id, term, i, i + len(term_stems)

    def mentions(self, text: str) -> list[Mention]:
        """Term occurrences with their character spans in `text` (stemmed word by word, as
        `tokenize` does for the whole text)."""
        stems: list[str] = []
        spans: list[tuple[int, int]] = []
        for word in re.finditer(r"\S+", text):
            for stem in _word_stems(word.group(0)):
                stems.append(stem)
                spans.append(word.span())
        return [
            Mention(issue_id, spans[first][0], spans[end - 1][1], term)
            for issue_id, term, first, end in self.find(stems)
        ]


@lru_cache(maxsize=200_000)
def _word_stems(word: str) -> tuple[str, ...]:
    # News vocabulary repeats: caching per word makes scanning a large index cheap.
    return tuple(tokenize(word))


def _ref(record, article: ArticleInfo, number: int, text: str, *, with_parse: bool) -> SentenceRef:
    """A sentence of a passage record, with its parse when it is to be read."""
    parses = record.sentence_parses if with_parse else None
    return SentenceRef(
        text=text,
        article=article,
        passage_id=record.id,
        passage_row=record.row,
        original_row=record.dup_of if record.dup_of >= 0 else record.row,
        order=(record.paragraph, record.part, number),
        parse=parses[number] if parses else None,
        before=tuple(parses[:number]) if parses else (),
    )


def issue_text(issue: Issue) -> str:
    """What is embedded to recognise sentences about an issue by meaning."""
    return f"{issue.title}: {issue.description}"


class IssueMatcher:
    """Assigns the sentences of an index to the issues of a catalogue."""

    def __init__(self, catalogue: Catalogue, issue_vectors: np.ndarray) -> None:
        self.catalogue = catalogue
        self.issue_ids = [issue.id for issue in catalogue.issues]
        self.vectors = np.asarray(issue_vectors, np.float32)
        self.terms = TermMatcher(catalogue.issues)
        self.reader = StanceReader(catalogue.parties)
        # (sentence text, article date) -> what `classify` found, from the latest scan.
        self._verdicts: dict[tuple[str, str | None], tuple] = {}

    def similarities(self, index: PassageIndex) -> np.ndarray:
        """(sentences, issues) cosines between every sentence and every issue."""
        rows = index.sentence_vectors.shape[0]
        out = np.zeros((rows, len(self.issue_ids)), np.float32)
        for start in range(0, rows, SIMILARITY_CHUNK):
            chunk = np.asarray(index.sentence_vectors[start : start + SIMILARITY_CHUNK])
            out[start : start + len(chunk)] = chunk @ self.vectors.T
        return out

    def scan(self, index: PassageIndex) -> dict[str, list[IssueSentence]]:
        """Every issue's sentences, in index order. A sentence already classified in an earlier
        scan by this matcher (same text, same article date) is not classified again, so the
        scan after an ingest only reads the sentences of unchanged articles."""
        found: dict[str, list[IssueSentence]] = {issue_id: [] for issue_id in self.issue_ids}
        if not self.issue_ids:
            return found
        sims = self.similarities(index)
        ptr = index.sentence_ptr
        earlier, self._verdicts = self._verdicts, {}
        for record in index.records.iter_passages():
            if record.paragraph == HEADLINE:
                continue  # a headline announces the story; briefings quote what it tells
            article = index.articles[record.article_id]
            for number, text in enumerate(record.sentence_texts()):
                key = (text, article.date)
                verdicts = earlier.get(key, self._verdicts.get(key))
                row = int(ptr[record.row]) + number
                if verdicts is None and not self._may_match(text, sims[row]):
                    verdicts = ()
                ref = _ref(record, article, number, text, with_parse=verdicts is None)
                if verdicts is None:
                    verdicts = tuple(
                        (item.issue_id, item.relevance, item.terms, item.stances)
                        for item in self.classify(ref, sims[row])
                    )
                self._verdicts[key] = verdicts
                for issue_id, relevance, terms, stances in verdicts:
                    found[issue_id].append(IssueSentence(ref, issue_id, relevance, terms, stances))
        return found

    def _may_match(self, text: str, sims: np.ndarray) -> bool:
        """Could `classify` find the sentence about an issue (a cheap test first)?"""
        return bool(len(sims) and float(sims.max()) >= MEANING_THRESHOLD) or bool(
            self.terms.mentions(text)
        )

    def classify(self, ref: SentenceRef, sims: np.ndarray) -> list[IssueSentence]:
        """The issues one sentence is about (usually none)."""
        mentions = self.terms.mentions(ref.text)
        named: dict[str, set[str]] = {}
        for mention in mentions:
            named.setdefault(mention.issue_id, set()).add(mention.term)
        by_meaning = None
        if len(sims):
            order = np.argsort(-sims)
            best = int(order[0])
            second = float(sims[order[1]]) if len(order) > 1 else -1.0
            if sims[best] >= MEANING_THRESHOLD and sims[best] - second >= MEANING_MARGIN:
                by_meaning = self.issue_ids[best]
        if not named and by_meaning is None:
            return []
        stances = self.reader.stances(ref.text, ref.parse, ref.before)
        aside = aside_span(ref.text)
        if aside:
            central = {m.issue_id for m in mentions if not aside[0] <= m.start < aside[1]}
            named = {k: v for k, v in named.items() if k in central}
            mentions = [m for m in mentions if m.issue_id in central]
        members = set(named) | ({by_meaning} if by_meaning and not named else set())
        about: dict[str, list[Stance]] = {issue_id: [] for issue_id in members}
        for i, stance in enumerate(stances):
            targets = (
                stance_issues(stance, stances[i + 1 :], ref.text, mentions) if mentions else members
            )
            for issue_id in targets & members:
                about[issue_id].append(stance)
        column = {issue_id: i for i, issue_id in enumerate(self.issue_ids)}
        return [
            IssueSentence(
                sentence=ref,
                issue_id=issue_id,
                relevance=float(sims[column[issue_id]])
                + TERM_BONUS * min(len(named.get(issue_id, ())), 3),
                terms=tuple(sorted(named.get(issue_id, ()))),
                stances=tuple(about[issue_id]),
            )
            for issue_id in self.issue_ids
            if issue_id in members
        ]
