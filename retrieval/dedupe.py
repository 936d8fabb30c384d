"""Near-duplicate passages: the same wire story published by two outlets.

A passage is a near-duplicate of an earlier passage from another article when their vectors
are almost parallel *and* their normalised texts mostly match (rapidfuzz). Duplicates point at
the earliest copy (``dup_of``) so search shows one of them and cites the others."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import faiss
import numpy as np
from rapidfuzz import fuzz

from corpus.normalize import normalize_for_search
from retrieval.index import IndexData

VECTOR_SIMILARITY = 0.9
TEXT_SIMILARITY = 85.0
NEIGHBOURS = 8
ARTICLE_SHARE = 0.5  # share of an article's passages that must be copies for the whole to be one


def _same_text(a: str, b: str) -> bool:
    a, b = normalize_for_search(a).lower(), normalize_for_search(b).lower()
    return fuzz.ratio(a, b) >= TEXT_SIMILARITY or (
        min(len(a), len(b)) > 0.8 * max(len(a), len(b)) and fuzz.token_set_ratio(a, b) >= 95
    )


def link_duplicates(data: IndexData, first_new_row: int) -> IndexData:
    """Set ``dup_of`` for passages from `first_new_row` on (each compared with every earlier
    passage), and the article-level ``duplicate_of`` for the articles they belong to."""
    total = len(data.passages)
    if first_new_row >= total or total < 2:
        return data
    # Exact neighbours of the new rows only, straight from the vectors: no index over the whole
    # corpus is built (an ingest at a million passages compares a few dozen rows, not all).
    every = np.ascontiguousarray(data.passage_vectors, dtype=np.float32)
    nearest_scores, nearest_ids = faiss.knn(
        every[first_new_row:], every, min(NEIGHBOURS + 1, total), metric=faiss.METRIC_INNER_PRODUCT
    )
    passages = list(data.passages)
    for offset, (ids, scores) in enumerate(zip(nearest_ids, nearest_scores, strict=True)):
        record = passages[first_new_row + offset]
        for row, score in zip(ids, scores, strict=True):
            if row < 0 or score < VECTOR_SIMILARITY:
                break
            if row >= record.row:  # only an earlier copy can be the original
                continue
            other = passages[int(row)]
            if other.article_id != record.article_id and _same_text(record.text, other.text):
                canonical = other.dup_of if other.dup_of >= 0 else other.row
                passages[record.row] = replace(record, dup_of=canonical)
                break
    articles = dict(data.articles)
    touched = {p.article_id for p in passages[first_new_row:]}
    for article_id in touched:
        rows = [p for p in passages[first_new_row:] if p.article_id == article_id]
        origins = Counter(passages[p.dup_of].article_id for p in rows if p.dup_of >= 0)
        if origins:
            origin, count = origins.most_common(1)[0]
            if count >= ARTICLE_SHARE * len(rows):
                articles[article_id] = replace(articles[article_id], duplicate_of=origin)
    return replace(data, passages=passages, articles=articles)
