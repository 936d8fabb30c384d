"""One search result from several libraries: a Discord server's own articles and the global
library, each searched with its own `Searcher`, merged as if they were one index.

Each library's fused scores are sums of cosines and BM25 normalised within that library, so
they are comparable enough to rank together; the answer pipeline (`tradetalk.answer`) then
reads the merged result exactly as it reads one library's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.index import PassageIndex
from retrieval.search import PassageHit, SearchResult


@dataclass(frozen=True)
class LibraryResult:
    """One library's search: its label (shown with citations), the build searched (still
    leased by the caller) and what it found."""

    library: str
    index: PassageIndex
    result: SearchResult


def merge_results(parts: Sequence[LibraryResult], k: int) -> SearchResult:
    """The `k` best hits of all `parts`, renumbered from 1, each labelled with its library.

    - Passage rows of each library are shifted past the rows of the libraries before it, so a
      row still names one passage (answers key sentences by row).
    - A query token is unknown only if every library lacks it.
    - A token weighs its largest idf among the libraries whose passages hold it (a word only
      the server's articles use is as telling as it is there); a token no library holds keeps
      the largest idf any gives it, the weight of the rarest word.
    """
    if not parts:
        raise ValueError("merge_results needs at least one library's result")
    first = parts[0].result
    weights = {token: _weight(token, parts) for token in first.token_weights}
    unknown = tuple(
        t for t in first.unknown_tokens if all(t in p.result.unknown_tokens for p in parts)
    )
    hits: list[PassageHit] = []
    offset = 0
    for part in parts:
        hits += [_relabelled(hit, part.library, offset, weights) for hit in part.result.hits]
        offset += len(part.index)
    hits.sort(key=lambda h: -h.score)  # stable: ties keep library order, then rank order
    ranked = tuple(replace(hit, rank=n) for n, hit in enumerate(hits[:k], start=1))
    return SearchResult(first.question, ranked, first.query_tokens, unknown, weights)


def _weight(token: str, parts: Sequence[LibraryResult]) -> float:
    known = [p.result.token_weights[token] for p in parts if p.index.lexical.knows(token)]
    return max(known or [p.result.token_weights[token] for p in parts])


def _relabelled(
    hit: PassageHit, library: str, offset: int, weights: dict[str, float]
) -> PassageHit:
    record = hit.record
    if offset:
        dup = record.dup_of + offset if record.dup_of >= 0 else -1
        record = replace(record, row=record.row + offset, dup_of=dup)
    article = replace(hit.article, library=library)
    return replace(hit, record=record, article=article)


def article_libraries(result: SearchResult) -> dict[str, str]:
    """Article id -> the library its best hit came from (an article in both is cited once)."""
    found: dict[str, str] = {}
    for hit in result.hits:
        if hit.article.library is not None:
            found.setdefault(hit.article.id, hit.article.library)
    return found
