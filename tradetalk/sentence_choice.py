"""Choosing answer sentences across every candidate passage, not only the top few.

Each sentence of the candidate passages is described by a few features of what makes a
sentence an answer: its closeness to the question (its own cosine, its passage's cosine and
BM25), the question's focus terms it holds (equivalents included; the rarest one counts on
its own), the kind of thing the question asks for (a name, a date, a figure, a reason), the
dates the question is about, how new or old its article is when the question asks for the
outcome or the start, and the shape of news prose (a lede, a quote, a fragment). The score is
a weighted sum; the weights in `answer_weights.json` were fitted on the tune halves of the
development sets by `bench/quality/fit.py` (a pairwise logistic ranker) and are measured on
the test halves (docs/RETRIEVAL.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from corpus.cleaning import is_furniture
from corpus.dates import date_mentions
from corpus.passages import HEADLINE
from retrieval.question_analysis import OLDEST, QuestionAnalysis
from retrieval.search import PassageHit, SearchResult
from retrieval.text import term_set
from retrieval.vocabulary import covers, equivalents
from tradetalk.answer_checks import FEATURES as CHECKS
from tradetalk.answer_checks import frame_features
from tradetalk.answer_types import gives_role, holds_answer_type, needs_answer_type, speaks

WEIGHTS_FILE = Path(__file__).with_name("answer_weights.json")
FEATURES = (
    "cosine",  # the sentence's cosine with the question
    "passage_cosine",  # its passage's
    "passage_bm25",  # its passage's BM25, max-normalised over the corpus
    "focus",  # IDF-weighted share of the question's focus terms in the sentence
    "rarest",  # the question's rarest known focus term is in the sentence
    "context",  # focus share in the passage and the article's title
    "typed",  # holds what a who/when/how-much/why question asks for
    "in_scope",  # about the dates the question names
    "out_of_scope",  # ... about other dates
    "recency",  # 1 for the newest candidate article (the oldest for "at first" questions)
    "newest",  # the newest (oldest) article holding the question's rarest term, when asked
    "day",  # a "when" question, and the sentence names a day, not just a month or year
    "short",  # fewer than four content terms: a fragment, a label
    "length",  # words / 40, at most 1
    "role",  # "who is X?": says what X is
    "speaker",  # "what did X say?": X says something in it
    "lede",  # in the article's first two paragraphs
    "headline",  # the article's headline
    "quote",  # opens with a quotation mark
    "asks",  # is itself a question
    "broad_length",  # length, for a broad question (what happened, the issues, the story)
    "broad_lede",  # lede, for a broad question
    "broad_short",  # short, for a broad question
    # The parse checks (tradetalk.answer_checks): the question's event word is in it; what is
    # asked (a date, a figure, a name, a reason) is within a few links of it; the event's
    # participants; X's role in an apposition or title; X the subject of a verb of saying;
    # the figure attached to the counted thing.
    *CHECKS,
)
_QUOTE_OPEN = re.compile(r"^\W{0,2}[\"“‘']")


@lru_cache(maxsize=20_000)
def _furniture(sentence: str) -> bool:
    """A credit, label or stamp inside a paragraph ("(AP Photo/…)", "Jiji Press")."""
    return is_furniture(sentence)


@lru_cache(maxsize=1)
def fitted_weights() -> dict[str, float]:
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    return {name: float(data["weights"].get(name, 0.0)) for name in FEATURES}


@dataclass(frozen=True)
class Candidate:
    """One sentence of one candidate passage, with what it scored on."""

    hit: PassageHit
    index: int  # the sentence's position in hit.sentences
    score: float
    features: dict[str, float]

    @property
    def text(self) -> str:
        return self.hit.sentences[self.index].text

    @property
    def key(self) -> tuple[int, int]:
        return (self.hit.record.row, self.index)

    @property
    def cosine(self) -> float:
        return self.features["cosine"]

    @property
    def focus(self) -> float:
        return self.features["focus"]

    @property
    def context(self) -> float:
        return self.features["context"]

    @property
    def typed(self) -> bool:
        return bool(self.features["typed"])


# A follow-up's inherited focus ("and what did Trump say?" after a question about a meeting)
# counts for this much of its IDF: the follow-up's own words lead.
CONTEXT_FOCUS_WEIGHT = 0.5


@dataclass(frozen=True)
class FocusShare:
    """One focus term's share of the question's focus, with the phrases that also cover it."""

    term: str
    share: float
    alternatives: frozenset[tuple[str, ...]]

    def covered_by(self, present: frozenset[str]) -> bool:
        return self.term in present or any(
            all(t in present for t in phrase) for phrase in self.alternatives
        )


def focus_shares(analysis: QuestionAnalysis, weights: dict[str, float]) -> list[FocusShare]:
    """Each focus term's share of the question's focus, by IDF (rarer terms count more)."""
    inherited = set(analysis.context_focus)
    raw = {
        t: weights.get(t, 1.0) * (CONTEXT_FOCUS_WEIGHT if t in inherited else 1.0)
        for t in analysis.focus
    }
    total = sum(raw.values())
    if not total:
        return []
    return [FocusShare(t, w / total, equivalents(t)) for t, w in raw.items()]


def focus_coverage(shares: list[FocusShare], present: frozenset[str]) -> float:
    """The share of the question's focus that `present` holds (a term counts when an
    equivalent is there: "Canadian" / "Canada")."""
    return sum(f.share for f in shares if f.covered_by(present))


def rarest_focus(analysis: QuestionAnalysis, result: SearchResult) -> str | None:
    """The question's most specific focus term that the articles contain."""
    known = [t for t in analysis.focus if t not in result.unknown_tokens]
    return max(known, key=lambda t: result.token_weights.get(t, 0.0), default=None)


@lru_cache(maxsize=20_000)
def _sentence_dates(text: str, published: str | None) -> tuple[tuple[dt.date, dt.date], ...]:
    day = dt.date.fromisoformat(published) if published else None
    return tuple((m.first, m.last) for m in date_mentions(text, day))


def in_scope(analysis: QuestionAnalysis, sentence: str, published: str | None) -> bool | None:
    """Is the sentence about the days the question names? Its own dates decide; a sentence
    with none is dated by its article (news reports an event within days)."""
    scope = analysis.scope
    if scope is None:
        return None
    named = _sentence_dates(sentence, published)
    if named:
        return any(scope.overlaps(first, last) for first, last in named)
    if not published:
        return False
    day = dt.date.fromisoformat(published)
    return scope.overlaps(day - dt.timedelta(days=3), day)


def _age_position(hits: tuple[PassageHit, ...], order: str | None) -> dict[str, float]:
    """Each article date's place among the candidates' dates: 1.0 for the newest (or, for
    "at first" questions, the oldest), 0.0 for the other end."""
    if order is None:
        return {}
    dates = sorted({h.article.date for h in hits if h.article.date})
    if len(dates) < 2:
        return {}
    span = len(dates) - 1
    place = {d: i / span for i, d in enumerate(dates)}
    if order == OLDEST:
        place = {d: 1.0 - p for d, p in place.items()}
    return place


def _newest_with(hits: tuple[PassageHit, ...], order: str | None, rarest: str | None) -> str | None:
    """The date of the newest (or oldest) candidate article whose passage holds the
    question's rarest term: where "in the end" or "at first" is answered."""
    if order is None:
        return None
    dates = [
        h.article.date
        for h in hits
        if h.article.date
        and (rarest is None or covers(rarest, term_set(h.record.text, h.article.date)))
    ]
    if not dates:
        return None
    return min(dates) if order == OLDEST else max(dates)


_DAY = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow)\b|"
    r"\b\d{4}-\d\d-\d\d\b",
    re.I,
)


def candidate_features(
    result: SearchResult, analysis: QuestionAnalysis
) -> list[tuple[PassageHit, int, dict[str, float]]]:
    """(hit, sentence index, features) for every sentence of every hit."""
    age = _age_position(result.hits, analysis.order)
    typed_matters = needs_answer_type(analysis.kind)
    rarest = rarest_focus(analysis, result)
    newest = _newest_with(result.hits, analysis.order, rarest)
    broad = float(analysis.broad)
    when = analysis.kind == "when"
    shares = focus_shares(analysis, result.token_weights)
    rows = []
    frame = analysis.frame
    for hit in result.hits:
        article = hit.article
        context_terms = term_set(hit.record.text, article.date, article.title)
        context = focus_coverage(shares, context_terms)
        parses = hit.record.sentence_parses if frame is not None else None
        for i, sentence in enumerate(hit.sentences):
            text = sentence.text
            if _furniture(text):
                continue
            present = term_set(text, article.date)
            scope = in_scope(analysis, text, article.date)
            short = float(len(present) < 4)
            length = min(len(text.split()) / 40, 1.0)
            lede = float(1 <= hit.record.paragraph <= 2)
            rows.append(
                (
                    hit,
                    i,
                    {
                        "cosine": sentence.similarity,
                        "passage_cosine": hit.dense,
                        "passage_bm25": hit.lexical,
                        "focus": focus_coverage(shares, present),
                        "rarest": float(rarest is not None and covers(rarest, present)),
                        "context": context,
                        "typed": float(
                            typed_matters
                            and holds_answer_type(analysis.kind, text, analysis.question)
                        ),
                        "in_scope": float(scope is True),
                        "out_of_scope": float(scope is False),
                        "recency": age.get(article.date or "", 0.0),
                        "newest": float(newest is not None and article.date == newest),
                        "day": float(when and bool(_DAY.search(text))),
                        "short": short,
                        "length": length,
                        "role": float(
                            bool(analysis.subject) and gives_role(analysis.subject, text)
                        ),
                        "speaker": float(bool(analysis.speaker) and speaks(analysis.speaker, text)),
                        "lede": lede,
                        "headline": float(hit.record.paragraph == HEADLINE),
                        "quote": float(bool(_QUOTE_OPEN.match(text))),
                        "asks": float(text.rstrip("\"”’' ").endswith("?")),
                        "broad_length": broad * length,
                        "broad_lede": broad * lede,
                        "broad_short": broad * short,
                        **frame_features(
                            frame, parses[i] if parses else None, rarest, context_terms
                        ),
                    },
                )
            )
    return rows


def score_candidates(
    result: SearchResult,
    analysis: QuestionAnalysis,
    weights: dict[str, float] | None = None,
) -> list[Candidate]:
    """Every sentence of every hit in `result`, best first."""
    w = weights or fitted_weights()
    rows = candidate_features(result, analysis)
    if not rows:
        return []
    if tuple(rows[0][2]) != FEATURES:  # the dicts are read in FEATURES' order below
        raise RuntimeError("candidate features out of step with FEATURES")
    # One product for every candidate: a Python sum per sentence was a tenth of an answer's
    # time beyond encoding the question.
    values = np.array([list(f.values()) for _, _, f in rows], dtype=np.float64)
    scores = values @ np.array([w.get(name, 0.0) for name in FEATURES])
    out = [
        Candidate(hit, i, float(score), f) for (hit, i, f), score in zip(rows, scores, strict=True)
    ]
    out.sort(key=lambda c: -c.score)
    return out
