"""Is a feed item already in the library? The same link (what a fetched article's id derives
from, or an article's declared url), or the same text under another link: a feed that lists
one story twice, or an outlet re-posting it at a new address.

Near-duplicate text is found without embedding anything: the library's own BM25 picks the
articles sharing the item's opening words (a handful, whatever the library's size), and the
test wire copies are linked by (`retrieval.dedupe.same_text`, rapidfuzz) compares whole texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus.articles import Article, fetched_article_id
from retrieval.dedupe import same_text as passages_same_text
from retrieval.index import PassageIndex
from retrieval.records import ArticleInfo
from retrieval.text import passage_terms

CANDIDATE_PASSAGES = 8
OPENING_PARAGRAPHS = 3


def same_text(a: str, b: str) -> bool:
    """The same story: the passage test wire copies are linked by (`retrieval.dedupe`), on
    whole texts of about the same length (one story quoting another in full is not a copy)."""
    if not a.strip() or not b.strip():
        return False
    if min(len(a), len(b)) < 0.8 * max(len(a), len(b)):
        return False
    return passages_same_text(a, b)


@dataclass
class LibraryView:
    """One build of the library, as a round of polling checks items against it."""

    index: PassageIndex

    def __post_init__(self) -> None:
        self._urls = {a.url for a in self.index.articles.values() if a.url}
        self._urls |= {a.fetched_from for a in self.index.articles.values() if a.fetched_from}

    def has_link(self, link: str) -> str | None:
        """The id of the article fetched from `link` (or declaring it as its url), if any."""
        article_id = fetched_article_id(link)
        if article_id in self.index.articles:
            return article_id
        if link in self._urls:
            return next(
                a.id for a in self.index.articles.values() if link in (a.url, a.fetched_from)
            )
        return None

    def copy_of(self, article: Article) -> ArticleInfo | None:
        """The library's article with the same text as `article`, if there is one."""
        index = self.index
        if not len(index):
            return None
        opening = " ".join(article.paragraphs[:OPENING_PARAGRAPHS])
        date = article.date.isoformat() if article.date else None
        scores = index.lexical.scores(passage_terms(opening, date, article.title))
        if not scores.any():
            return None
        scored = np.flatnonzero(scores > 0)
        if len(scored) > CANDIDATE_PASSAGES:
            scored = scored[np.argpartition(-scores[scored], CANDIDATE_PASSAGES)]
        top = scored[np.argsort(-scores[scored[:CANDIDATE_PASSAGES]], kind="stable")]
        records = index.records.passages([int(r) for r in top])
        for article_id in dict.fromkeys(records[int(r)].article_id for r in top):
            if article_id == article.id:
                continue
            if same_text(article.text, self.text_of(article_id)):
                return index.articles[article_id]
        return None

    def text_of(self, article_id: str) -> str:
        rows = list(self.index.article_rows(article_id))
        records = self.index.records.passages(rows)
        return "\n\n".join(records[r].text for r in rows)
