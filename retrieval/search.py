"""Hybrid search: passage vectors, the best-matching sentence inside each passage, and BM25,
fused as a weighted sum of comparable scores (cosines and max-normalised BM25)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from corpus.normalize import normalize_for_search
from retrieval.encoder import Encoder
from retrieval.index import PassageIndex
from retrieval.records import ArticleInfo, PassageRecord
from retrieval.tokenize import tokenize
from retrieval.vocabulary import equivalents, plain_words


@dataclass(frozen=True)
class ScoringWeights:
    passage: float = 0.3
    sentence: float = 0.4
    lexical: float = 0.3
    candidates: int = 64


@dataclass(frozen=True)
class ScoredSentence:
    start: int  # offsets into the article text
    end: int
    text: str
    similarity: float  # cosine with the question


@dataclass(frozen=True)
class PassageHit:
    rank: int
    record: PassageRecord
    article: ArticleInfo
    score: float
    dense: float
    lexical: float
    sentences: tuple[ScoredSentence, ...]
    also_in: tuple[str, ...] = ()  # other articles carrying a near-copy of this passage


@dataclass(frozen=True)
class SearchResult:
    question: str
    hits: tuple[PassageHit, ...]
    query_tokens: tuple[str, ...]
    unknown_tokens: tuple[str, ...]  # query tokens that occur nowhere in the corpus
    token_weights: dict[str, float] = field(default_factory=dict)  # idf of each query token


_CONTRACTIONS = [
    (re.compile(r"\b(what|who|where|when|how|why|that|there|it)'s\b", re.I), r"\1 is"),
    (re.compile(r"\b(\w+)n't\b", re.I), r"\1 not"),
    (re.compile(r"\b(\w+)'re\b", re.I), r"\1 are"),
]


def prepare_query(question: str) -> str:
    """The question as it is embedded: idioms in plain words, normalised, contractions spelled
    out."""
    text = normalize_for_search(plain_words(question))
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the `k` best scores; in a big corpus, only rows that scored at all. Most
    passages share no term with a question: partitioning only the scored ones took the cost of
    this step at a million passages from 4 ms to well under 1 (docs/PERFORMANCE.md)."""
    if len(scores) <= k:
        return np.arange(len(scores))
    scored = np.flatnonzero(scores > 0)
    if len(scored) <= k:
        return scored
    return scored[np.argpartition(-scores[scored], k)[:k]]


class Searcher:
    """Searches one loaded `PassageIndex` with one encoder."""

    def __init__(
        self, index: PassageIndex, encoder: Encoder, weights: ScoringWeights | None = None
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.weights = weights or ScoringWeights()

    def knows(self, token: str) -> bool:
        """Is `token` (a stem) in the articles: their text and titles, their outlets' names, or
        as an equivalent ("canadian" when they say "Canada")?"""
        index = self.index
        if index.lexical.knows(token) or token in index.metadata_terms:
            return True
        return any(all(index.lexical.knows(t) for t in p) for p in equivalents(token))

    def encode_query(self, question: str) -> np.ndarray:
        return self.encode_query_with(self.encoder, question)

    @staticmethod
    def encode_query_with(encoder: Encoder, question: str) -> np.ndarray:
        """The question's vector, as every library searches it (one encoding serves several)."""
        return encoder.encode([prepare_query(question)])[0]

    def search(
        self,
        question: str,
        k: int = 5,
        *,
        query_vector: np.ndarray | None = None,
        context: str | None = None,
    ) -> SearchResult:
        """Top `k` passages. `context` (an earlier question) adds its terms to BM25's query."""
        index, w = self.index, self.weights
        tokens = tokenize(question)
        # The plain words of idioms join BM25's query ("sticking points": "issues in dispute").
        plain = [t for t in tokenize(plain_words(question)) if t not in tokens]
        context_tokens = [t for t in tokenize(context) if t not in tokens] if context else []
        # Equivalents ("Canadian" for "Canada") make a word known and count as covering it
        # (tradetalk.sentence_choice), but do not join BM25's query: there they pulled in
        # passages that merely name the country (tune R@1 0.58 -> 0.54, docs/RETRIEVAL.md).
        unknown = tuple(t for t in tokens if not self.knows(t))
        weights = {t: index.lexical.idf(t) for t in tokens + context_tokens}
        if len(index) == 0:
            return SearchResult(question, (), tuple(tokens), unknown, weights)
        q = self.encode_query(question) if query_vector is None else query_vector

        pool = max(w.candidates, 4 * k)
        dense_hits = index.dense.search(q[None, :], pool)
        lexical = index.lexical.scores(tokens + context_tokens + plain)
        lexical_top = _top(lexical, pool)
        candidates = np.union1d(dense_hits.ids[0][dense_hits.ids[0] >= 0], lexical_top)

        # Products in float64, then float32: a float32 product's last bit depends on how the
        # rows lie in memory (one segment or several), and a passage must score the same
        # however the index is segmented.
        q64 = q.astype(np.float64)
        passage_sim = (np.asarray(index.passage_vectors[candidates], np.float64) @ q64).astype(
            np.float32
        )
        # Every candidate's sentences in one gather and one product, not a loop per passage.
        ptr = index.sentence_ptr
        starts, counts = ptr[candidates], ptr[candidates + 1] - ptr[candidates]
        offsets = np.cumsum(counts) - counts  # where each candidate's sentences begin in `sims`
        rows = np.arange(counts.sum()) + np.repeat(starts - offsets, counts)
        sims = (np.asarray(index.sentence_vectors[rows], np.float64) @ q64).astype(np.float32)
        sentence_best = passage_sim.copy()  # a passage without sentences stands for itself
        has = counts > 0
        if has.any():
            sentence_best[has] = np.maximum.reduceat(sims, offsets[has])
        top_lexical = float(lexical[lexical_top].max()) if len(lexical_top) else 0.0
        lexical_norm = (
            lexical[candidates] / top_lexical
            if top_lexical > 0
            else np.zeros(len(candidates), np.float32)
        )
        fused = w.passage * passage_sim + w.sentence * sentence_best + w.lexical * lexical_norm
        order = np.argsort(-fused, kind="stable")

        # Pick the top k, folding near-duplicate passages (wire copies) into the first one seen.
        chosen: list[int] = []
        owner_of: dict[int, int] = {}  # canonical row -> the chosen row that stands for it
        copies: dict[int, list[int]] = {}
        records = index.records.passages([int(r) for r in candidates[order[: 4 * k]]])
        for position in order[: 4 * k]:
            row = int(candidates[position])
            canonical = records[row].dup_of if records[row].dup_of >= 0 else row
            if canonical in owner_of:
                copies.setdefault(owner_of[canonical], []).append(row)
            elif len(chosen) < k:
                owner_of[canonical] = row
                chosen.append(row)
        position_of = {int(candidates[p]): p for p in order[: 4 * k]}
        hits = []
        for rank, row in enumerate(chosen, start=1):
            record = records[row]
            p = position_of[row]
            sims_here = sims[offsets[p] : offsets[p] + counts[p]]
            sentences = tuple(
                ScoredSentence(s, e, record.text[s - record.start : e - record.start], float(sim))
                for (s, e), sim in zip(record.sentences, sims_here, strict=True)
            )
            also = tuple(
                dict.fromkeys(
                    records[c].article_id
                    for c in copies.get(row, [])
                    if records[c].article_id != record.article_id
                )
            )
            article = index.articles[record.article_id]
            hits.append(
                PassageHit(
                    rank=rank,
                    record=record,
                    article=article,
                    score=float(fused[p]),
                    dense=float(passage_sim[p]),
                    lexical=float(lexical_norm[p]),
                    sentences=sentences,
                    also_in=also,
                )
            )
        return SearchResult(question, tuple(hits), tuple(tokens), unknown, weights)
