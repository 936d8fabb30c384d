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
from retrieval.index import IndexData, PassageIndex
from retrieval.records import PassageRecord

VECTOR_SIMILARITY = 0.9
TEXT_SIMILARITY = 85.0
NEIGHBOURS = 8
ARTICLE_SHARE = 0.5  # share of an article's passages that must be copies for the whole to be one


def same_text(a: str, b: str) -> bool:
    """Do two texts say the same thing, word for word or nearly (a wire copy, a re-post)?"""
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
    # corpus is built.
    every = np.ascontiguousarray(data.passage_vectors, dtype=np.float32)
    nearest_scores, nearest_ids = faiss.knn(
        every[first_new_row:], every, min(NEIGHBOURS + 1, total), metric=faiss.METRIC_INNER_PRODUCT
    )
    passages = list(data.passages)
    for offset, (ids, scores) in enumerate(zip(nearest_ids, nearest_scores, strict=True)):
        record = passages[first_new_row + offset]
        found = _copied(record, ids, scores, lambda row: passages[row])
        if found is not None:
            passages[record.row] = replace(record, dup_of=found)
    articles = _article_copies(data.articles, passages[first_new_row:], lambda r: passages[r])
    return replace(data, passages=passages, articles=articles)


def _copied(record: PassageRecord, ids, scores, passage_at) -> int | None:
    """The row `record` copies among its neighbours (`ids`, best first), if any: the earliest
    copy's original."""
    for row, score in zip(ids, scores, strict=True):
        if row < 0 or score < VECTOR_SIMILARITY:
            break
        if row >= record.row:  # only an earlier copy can be the original
            continue
        other = passage_at(int(row))
        if other.article_id != record.article_id and same_text(record.text, other.text):
            return other.dup_of if other.dup_of >= 0 else other.row
    return None


def _article_copies(articles, new: list[PassageRecord], passage_at) -> dict:
    """An article most of whose new passages copy one other article is a copy of it."""
    articles = dict(articles)
    for article_id in {p.article_id for p in new}:
        rows = [p for p in new if p.article_id == article_id]
        origins = Counter(passage_at(p.dup_of).article_id for p in rows if p.dup_of >= 0)
        if origins:
            origin, count = origins.most_common(1)[0]
            if count >= ARTICLE_SHARE * len(rows):
                articles[article_id] = replace(articles[article_id], duplicate_of=origin)
    return articles


def link_against(index: PassageIndex, data: IndexData, leaving: set[str]) -> IndexData:
    """`link_duplicates` for passages about to join `index` (`data` numbered after it), minus
    the `leaving` articles: each new passage is compared with its nearest passages in the index
    (found by the index's own vector search, so the cost does not grow with the index) and
    with the earlier new ones, exactly as if all were one index."""
    count = len(data.passages)
    if not count:
        return data
    vectors = np.ascontiguousarray(data.passage_vectors, dtype=np.float32)
    first = data.first_row
    leaving_rows = sorted(r for a in leaving if a in index.articles for r in index.article_rows(a))
    excluded = set(leaving_rows)
    neighbours = min(NEIGHBOURS + 1, len(index) + count)
    candidates: list[list[tuple[float, int]]] = [[] for _ in range(count)]
    if len(index) > len(excluded):
        hits = index.dense.search(vectors, min(len(index), neighbours + len(excluded)))
        for n in range(count):
            candidates[n] += [
                (float(s), int(r))
                for r, s in zip(hits.ids[n], hits.scores[n], strict=True)
                if r >= 0 and int(r) not in excluded
            ]
    within_scores, within_ids = faiss.knn(
        vectors, vectors, min(neighbours, count), metric=faiss.METRIC_INNER_PRODUCT
    )
    for n in range(count):
        candidates[n] += [
            (float(s), first + int(r))
            for r, s in zip(within_ids[n], within_scores[n], strict=True)
            if r >= 0
        ]
    wanted = sorted(
        {r for found in candidates for s, r in found if r < first and s >= VECTOR_SIMILARITY}
    )
    known = index.records.passages(wanted)
    for record in known.values():
        if record.dup_of in excluded:  # its original leaves with its article
            known[record.row] = replace(record, dup_of=-1)
    passages = list(data.passages)

    def passage_at(row: int) -> PassageRecord:
        if row >= first:
            return passages[row - first]
        if row not in known:
            known.update(index.records.passages([row]))
        return known[row]

    for n, found in enumerate(candidates):
        found.sort(key=lambda c: (-c[0], c[1]))
        ids = [r for _, r in found[:neighbours]]
        scores = [s for s, _ in found[:neighbours]]
        record = passages[n]
        copied = _copied(record, ids, scores, passage_at)
        if copied is not None:
            passages[n] = replace(record, dup_of=copied)
    articles = _article_copies(data.articles, passages, passage_at)
    return replace(data, passages=passages, articles=articles)
