"""Extractive answers: the one to three sentences that best answer a question, quoted verbatim,
each cited; or a plain statement that the articles don't cover it."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from corpus.dates import resolve_relative_dates
from corpus.normalize import clean_unicode
from retrieval.search import PassageHit, SearchResult
from retrieval.tokenize import tokenize

MAX_ANSWER_CHARS = 600
MAX_SENTENCES = 3
ANSWER_POOL = 3  # sentences are drawn from the top passages only


@dataclass(frozen=True)
class Citation:
    number: int
    article_id: str
    passage_id: str
    title: str
    source: str
    date: str | None
    url: str | None
    quote: str  # the whole passage the answer sentences come from
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # verbatim
    citation: int  # Citation.number
    dates: tuple[tuple[str, str], ...] = ()  # ("Friday", "2018-09-07") resolved from the article


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    hits: tuple[PassageHit, ...]
    confidence: float
    reason: str = ""  # why we abstained, for logs and --json
    coverage: str = ""  # what the corpus does cover, shown when abstaining
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The answer as plain verbatim text (what ``--json`` reports as "answer")."""
        if self.abstained:
            return self.not_covered_message
        return " ".join(s.text for s in self.sentences)

    @property
    def not_covered_message(self) -> str:
        message = "My articles don't cover that."
        return f"{message} {self.coverage}" if self.coverage else message


@dataclass(frozen=True)
class AnswerPolicy:
    threshold: float
    max_chars: int = MAX_ANSWER_CHARS


# Expected answer types: a question of this kind needs this kind of token in its answer.
_NUMERIC_Q = re.compile(
    r"\b(how (many|much|long|far|big|large|high|old)|what (percentage|percent|share|rate|amount|"
    r"number|level|value|price|cost|figure)|at what (rate|level|price))\b|\b(rate|percentage)\b\??$",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|"
    r"thousand|million|billion|trillion|half|quarter|third|double|twice|percent)\b",
    re.I,
)
_WHEN_Q = re.compile(r"^\s*(when|what (day|date|year|month|time))\b", re.I)
_DATE = re.compile(
    r"\d{4}|\b(jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\b|"
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
    r"week|month|year|deadline|morning|night|evening|afternoon)\b",
    re.I,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:'s)?\b|\b[A-Z]{2,}\b")


def missing_names(question: str, result: SearchResult) -> list[str]:
    """Capitalised names in the question (not its first word) that no article mentions:
    a question about Mexico's president can't be answered from articles that never name Mexico."""
    words = list(_NAME.finditer(clean_unicode(question)))
    missing = []
    for match in words:
        if match.start() == 0:
            continue  # a capitalised first word says nothing
        tokens = tokenize(match.group(0))
        if tokens and all(t in result.unknown_tokens for t in tokens):
            missing.append(match.group(0))
    return missing


def _idf_overlap(question_tokens: set[str], sentence: str) -> float:
    if not question_tokens:
        return 0.0
    return len(question_tokens & set(tokenize(sentence))) / len(question_tokens)


def _candidates(result: SearchResult) -> list[tuple[float, PassageHit, int]]:
    q_tokens = set(result.query_tokens)
    scored = []
    for hit in result.hits[:ANSWER_POOL]:
        for i, sentence in enumerate(hit.sentences):
            score = (
                sentence.similarity
                + 0.15 * _idf_overlap(q_tokens, sentence.text)
                + 0.25 * hit.score
                - 0.02 * (hit.rank - 1)
            )
            scored.append((score, hit, i))
    scored.sort(key=lambda item: -item[0])
    return scored


def confidence_of(result: SearchResult) -> float:
    """How sure we are the top passages answer the question: best sentence cosine blended with
    how much of the question's wording the best passage shares (squashed to 0..1)."""
    if not result.hits:
        return 0.0
    top = result.hits[0]
    best_sentence = max((s.similarity for s in top.sentences), default=top.dense)
    raw = 0.7 * best_sentence + 0.3 * top.lexical
    return 1 / (1 + math.exp(-12 * (raw - 0.35)))


def _dates_for(text: str, date: str | None) -> tuple[tuple[str, str], ...]:
    published = dt.date.fromisoformat(date) if date else None
    return tuple((d.word, d.date.isoformat()) for d in resolve_relative_dates(text, published))


def compose_answer(result: SearchResult, policy: AnswerPolicy, *, coverage: str = "") -> Answer:
    confidence = confidence_of(result)
    chosen = _candidates(result)
    reason = ""
    names = missing_names(result.question, result)
    if not result.hits:
        reason = "no articles"
    elif names:
        reason = f"names not in any article: {', '.join(names)}"
    elif confidence < policy.threshold:
        reason = f"low confidence {confidence:.2f}"
    picked: list[tuple[float, PassageHit, int]] = []
    if not reason:
        best = chosen[0][0]
        length = 0
        for item in chosen:
            score, hit, i = item
            text = hit.sentences[i].text
            if len(picked) >= MAX_SENTENCES or length + len(text) > policy.max_chars:
                continue
            if picked and score < best - 0.08:
                break
            picked.append(item)
            length += len(text) + 1
        if not picked:  # a single sentence longer than the cap: cut it at a word boundary
            _, hit, i = chosen[0]
            picked = [chosen[0]]
        texts = " ".join(h.sentences[i].text for _, h, i in picked)
        if _NUMERIC_Q.search(result.question) and not _NUMBER.search(texts):
            reason, picked = "no figure in the best sentences for a how-many question", []
        elif _WHEN_Q.search(result.question) and not _DATE.search(texts):
            reason, picked = "no date in the best sentences for a when question", []
    if not picked:
        return Answer(
            question=result.question, abstained=True, sentences=(), citations=(),
            hits=result.hits, confidence=confidence, reason=reason, coverage=coverage,
        )
    # Keep reading order within a passage; number citations by first use.
    picked.sort(key=lambda item: (item[1].rank, item[2]))
    citations: dict[str, Citation] = {}
    sentences = []
    for _, hit, i in picked:
        record = hit.record
        if record.id not in citations:
            citations[record.id] = Citation(
                number=len(citations) + 1, article_id=hit.article.id, passage_id=record.id,
                title=hit.article.title, source=hit.article.source, date=hit.article.date,
                url=hit.article.url, quote=record.text, also_in=hit.also_in,
            )
        sentence = hit.sentences[i]
        text = sentence.text
        if len(text) > policy.max_chars:
            text = text[: policy.max_chars].rsplit(" ", 1)[0] + " …"
        sentences.append(
            AnswerSentence(text=text, citation=citations[record.id].number,
                           dates=_dates_for(text, hit.article.date))
        )
    return Answer(
        question=result.question, abstained=False, sentences=tuple(sentences),
        citations=tuple(citations.values()), hits=result.hits, confidence=confidence,
        coverage=coverage,
    )
