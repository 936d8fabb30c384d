"""What the engine needs of the place a library is kept, and nothing more.

A library is its article sources (what its index is built from) and its index builds (what
questions are answered from). The engine reads and writes them only through this interface:

- `ArticleSources`: `scan` (every source with its sha256, cheap), `read` one, and `staging`, a
  block in which an ingest saves articles and a removal deletes them. If the block fails,
  everything staged in it is undone; what is staged becomes part of the library no later than
  the build that indexes it is published.
- `LibraryStore`: the sources, the builds (`retrieval.storage.IndexStorage`: where this host
  reads and writes builds: the store itself, or this host's cache of it), the write lock and
  the merge lock (across processes, and across hosts where the store is shared), and
  `current_name`, the check a serving engine makes before each question for a build another
  process published.

Modelled on Red-DiscordBot's drivers (one base, a local default and a database), so that
migration is written once against the interface.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from corpus.articles import Article
from corpus.library import SourceFile
from retrieval.build import SourcedArticle
from retrieval.storage import IndexStorage


class Staging(ABC):
    """The article changes of one write, undone if the write fails."""

    @abstractmethod
    def save(self, article: Article, replacing: Sequence[str] = ()) -> SourcedArticle:
        """Store `article` (replacing the sources `replacing` names, an older version's) and
        return it as stored: what the index is built from."""

    @abstractmethod
    def delete(self, article_id: str, keys: Sequence[str]) -> None:
        """Take the article's sources (`keys`, as `scan` names them) out of the library."""


class ArticleSources(ABC):
    """The articles a library's index is built from."""

    @abstractmethod
    def scan(self) -> dict[str, SourceFile]:
        """Every source, by key (``bundled/<name>``, ``added/<name>``), with its sha256."""

    @abstractmethod
    def read(self, source: SourceFile) -> Article:
        """One source, parsed (`ArticleError` if it is unreadable)."""

    @abstractmethod
    def staging(self) -> contextlib.AbstractContextManager[Staging]:
        """A block of article changes: undone if it raises."""


class LibraryStore(ABC):
    """One library's articles and index builds, and the locks that keep its writers apart."""

    articles: ArticleSources
    builds: IndexStorage

    @abstractmethod
    def lock(self, *, wait: bool = True) -> contextlib.AbstractContextManager[None]:
        """One writer at a time; `IndexBusy` at once when ``wait`` is false and another
        writer holds it."""

    @abstractmethod
    def merge_lock(self) -> contextlib.AbstractContextManager[bool]:
        """One merge at a time: yields False at once if another is merging."""

    @abstractmethod
    def current_name(self) -> str | None:
        """The name of the store's current build (None: none yet). Asked before every
        question, so it must be cheap."""

    @abstractmethod
    def exists(self) -> bool:
        """Is the library stored at all (purged libraries are not)? Reading creates nothing."""

    @abstractmethod
    def has_articles(self) -> bool:
        """Does the library hold anything of its own: a build, or an article not yet indexed?"""

    def refresh(self) -> None:  # noqa: B027  (most stores hold their builds themselves)
        """Make `builds` hold the store's current build (a cache fetches it)."""

    def close(self) -> None:  # noqa: B027
        """Let go of connections."""
