"""Is a feed item already in the library? The same link: what a fetched article's id derives
from, or an article's declared url. (The same text under another link is not "known": it is
ingested and linked as a copy, as `tradetalk ingest` does, so a false match loses nothing.)"""

from __future__ import annotations

from dataclasses import dataclass

from corpus.articles import fetched_article_id
from retrieval.index import PassageIndex


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
