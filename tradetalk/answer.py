"""Extractive answers: the one to three sentences that best answer a question, quoted verbatim,
each cited; or a plain statement that the articles don't cover it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from corpus.dates import resolve_relative_dates
from corpus.normalize import clean_unicode
from retrieval.search import PassageHit, SearchResult
from retrieval.text import term_set
from retrieval.tokenize import tokenize

MAX_ANSWER_CHARS = 600
MAX_SENTENCES = 3
ANSWER_POOL = 3  # sentences are drawn from the top passages only
SENTENCE_MARGIN = 0.12
# A question whose terms the top passage mostly contains ("What happened on December 13,
# 2019?" against "on Friday (December 13, 2019)") is answered even when the cosine is low.
LEXICAL_RESCUE = 0.5  # further sentences must score within this of the best one


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
    r"number|level|value|price|cost|figure)|at what (rate|level|price))\b|"
    r"\b(rate|percentage)\b\??$",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|"
    r"thousand|million|billion|trillion|half|quarter|third|double|twice|percent)\b",
    re.I,
)
# A quantity: digits or a number word, but not a label ("Chapter 19", "Section 232") or a year.
_FIGURE = re.compile(
    r"(?<![A-Z][a-z]{2} )(?<![A-Z][a-z]{3} )(?<![A-Z][a-z]{4} )(?<![A-Z][a-z]{5} )"
    r"(?<![A-Z][a-z]{6} )(?<![A-Z][a-z]{7} )(?<!\d)(?!(?:19|20)\d\d\b)\d[\d,.]*|"
    r"(?i:\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen)\b)",
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


def _overlap(weights: dict[str, float], sentence: str, date: str | None) -> float:
    """IDF-weighted share of the question's terms the sentence contains (dates spelled out, as
    indexed): matching "foreign minister" counts for more than matching "Canada"."""
    total = sum(weights.values())
    if not total:
        return 0.0
    present = term_set(sentence, date)
    return sum(w for t, w in weights.items() if t in present) / total


_WHO_Q = re.compile(r"^\s*(who|whom|whose)\b", re.I)
_FULL_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b")


def answer_type_match(question: str, sentence: str) -> bool:
    """Does the sentence hold the kind of thing the question asks for (a name for "who", a
    date for "when", a figure for "how many")?"""
    if _WHO_Q.search(question):
        lowered = question.lower()
        return any(name.lower() not in lowered for name in _FULL_NAME.findall(sentence))
    if _WHEN_Q.search(question):
        return bool(_DATE.search(sentence))
    if _NUMERIC_Q.search(question):
        return bool(_NUMBER.search(sentence))
    return False


def _candidates(result: SearchResult) -> list[tuple[float, PassageHit, int]]:
    """Sentences of the top passages, best first. Weights measured on the development
    questions (see docs/RETRIEVAL.md): similarity dominates; shared terms, the passage's own
    score and the expected answer type break near-ties."""
    scored = []
    for hit in result.hits[:ANSWER_POOL]:
        for i, sentence in enumerate(hit.sentences):
            score = (
                sentence.similarity
                + 0.2 * _overlap(result.token_weights, sentence.text, hit.article.date)
                + 0.25 * hit.score
                - 0.02 * (hit.rank - 1)
                + 0.05 * answer_type_match(result.question, sentence.text)
            )
            scored.append((score, hit, i))
    scored.sort(key=lambda item: -item[0])
    return scored


_ANAPHOR = re.compile(r"^\W*(they|it|its|this|these|those|that|he|she|his|her|such|both)\b", re.I)


def _select(
    chosen: list[tuple[float, PassageHit, int]], max_chars: int
) -> list[tuple[float, PassageHit, int]]:
    """The best sentence, then any within `SENTENCE_MARGIN` of it (at most three, within
    `max_chars`). A sentence that opens with a pronoun ("They include ...") brings the sentence
    before it, so the answer reads on its own."""
    best = chosen[0][0]
    picked: list[tuple[float, PassageHit, int]] = []
    length = 0

    def fits(hit: PassageHit, i: int) -> bool:
        return length + len(hit.sentences[i].text) + 1 <= max_chars

    for item in chosen:
        score, hit, i = item
        if picked and score < best - SENTENCE_MARGIN:
            break
        if len(picked) >= MAX_SENTENCES or any(h is hit and j == i for _, h, j in picked):
            continue
        if not fits(hit, i):
            continue
        picked.append(item)
        length += len(hit.sentences[i].text) + 1
        already = any(h is hit and j == i - 1 for _, h, j in picked)
        if i > 0 and not already and _ANAPHOR.search(hit.sentences[i].text) and fits(hit, i - 1):
            picked.append((score, hit, i - 1))
            length += len(hit.sentences[i - 1].text) + 1
    return picked or [chosen[0]]  # one over-long sentence: trimmed at a word boundary later


def confidence_of(result: SearchResult) -> float:
    """The cosine between the question and the best sentence of the top passages: the
    abstention threshold is on this scale (calibrated on the development questions)."""
    return max(
        (s.similarity for hit in result.hits[:ANSWER_POOL] for s in hit.sentences), default=0.0
    )


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
    elif confidence < policy.threshold and result.hits[0].coverage < LEXICAL_RESCUE:
        reason = f"low confidence {confidence:.2f}"
    picked: list[tuple[float, PassageHit, int]] = []
    if not reason:
        picked = _select(chosen, policy.max_chars)
        texts = " ".join(h.sentences[i].text for _, h, i in picked)
        top_sentence = chosen[0][1].sentences[chosen[0][2]].text
        if _NUMERIC_Q.search(result.question) and not _FIGURE.search(top_sentence):
            reason, picked = "no figure in the best sentences for a how-many question", []
        elif _WHEN_Q.search(result.question) and not _DATE.search(texts):
            reason, picked = "no date in the best sentences for a when question", []
    if not picked:
        return Answer(
            question=result.question,
            abstained=True,
            sentences=(),
            citations=(),
            hits=result.hits,
            confidence=confidence,
            reason=reason,
            coverage=coverage,
        )
    # Keep reading order within a passage; number citations by first use.
    picked.sort(key=lambda item: (item[1].rank, item[2]))
    citations: dict[str, Citation] = {}
    sentences = []
    for _, hit, i in picked:
        record = hit.record
        if record.id not in citations:
            citations[record.id] = Citation(
                number=len(citations) + 1,
                article_id=hit.article.id,
                passage_id=record.id,
                title=hit.article.title,
                source=hit.article.source,
                date=hit.article.date,
                url=hit.article.url,
                quote=record.text,
                also_in=hit.also_in,
            )
        sentence = hit.sentences[i]
        text = sentence.text
        if len(text) > policy.max_chars:
            text = text[: policy.max_chars].rsplit(" ", 1)[0] + " …"
        sentences.append(
            AnswerSentence(
                text=text,
                citation=citations[record.id].number,
                dates=_dates_for(text, hit.article.date),
            )
        )
    return Answer(
        question=result.question,
        abstained=False,
        sentences=tuple(sentences),
        citations=tuple(citations.values()),
        hits=result.hits,
        confidence=confidence,
        coverage=coverage,
    )
