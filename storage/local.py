"""A library in its directory of the data dir, as TradeTalk has always kept one: article files
(``articles/*.md``, plus the read-only bundled corpus for the global library) and index builds
(``index/``: immutable segments, build manifests, the atomic ``current`` symlink), with
``flock``s as the locks. Several processes on one machine may share it.

Article files are written before the build that indexes them and deleted before the build
without them; a failed write puts them back. A process killed in between leaves files the
index does not match yet: the next start brings the index in line with the files."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from corpus.articles import Article, read_article
from corpus.library import ArticleLibrary, SourceFile
from retrieval.build import SourcedArticle
from retrieval.storage import IndexStorage
from storage.base import ArticleSources, LibraryStore, Staging

log = logging.getLogger(__name__)


class LocalStaging(Staging):
    """Files written and deleted at once, each one's previous bytes kept to put back."""

    def __init__(self, library: ArticleLibrary) -> None:
        self.library = library
        self.backups: dict[Path, bytes | None] = {}

    def _keep(self, path: Path) -> None:
        self.backups.setdefault(path, path.read_bytes() if path.exists() else None)

    def _paths(self, article_id: str, keys: Sequence[str]) -> list[Path]:
        paths = [p for p in map(self.library.path_of, keys) if p is not None]
        return paths or [self.library.path_for(article_id)]

    def save(self, article: Article, replacing: Sequence[str] = ()) -> SourcedArticle:
        """Write one article; if that fails, what it touched is put back before the error
        goes on (the rest of the batch may still be saved)."""
        path = self.library.path_for(article.id)
        # An update replaces every file the old version was read from, so none of them brings
        # the old text back at the next start.
        old_files = self._paths(article.id, replacing) if replacing else []
        touched = [p for p in {path, *old_files} if p not in self.backups]
        for old in {path, *old_files}:
            self._keep(old)
        try:
            for old in old_files:
                if old != path:
                    old.unlink(missing_ok=True)
            saved = self.library.save(article)
            data = saved.read_bytes()
            stored = read_article(saved, max_bytes=self.library.max_bytes, stored=True)
        except Exception:
            self._put_back({p: self.backups.pop(p) for p in touched})
            raise
        return SourcedArticle(f"added/{saved.name}", hashlib.sha256(data).hexdigest(), stored)

    def delete(self, article_id: str, keys: Sequence[str]) -> None:
        for path in self._paths(article_id, keys):
            if path.exists():
                self._keep(path)
            path.unlink(missing_ok=True)

    def undo(self) -> None:
        self._put_back(self.backups)

    @staticmethod
    def _put_back(backups: dict[Path, bytes | None]) -> None:
        for path, previous in backups.items():
            try:
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(previous)
            except OSError:  # the error being raised is the one the admin needs
                log.exception("could not restore %s", path)


class LocalArticles(ArticleSources):
    """`ArticleLibrary`'s files as a library's sources."""

    def __init__(self, library: ArticleLibrary) -> None:
        self.files = library

    def scan(self) -> dict[str, SourceFile]:
        return self.files.scan()

    def read(self, source: SourceFile) -> Article:
        return self.files.read(source)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        staging = LocalStaging(self.files)
        try:
            yield staging
        except BaseException:
            staging.undo()  # nothing half-done: every article file back as it was
            raise


class LocalStore(LibraryStore):
    def __init__(self, articles: ArticleLibrary, index_dir: Path) -> None:
        self.articles = LocalArticles(articles)
        self.builds = IndexStorage(index_dir)

    def lock(self, *, wait: bool = True) -> contextlib.AbstractContextManager[None]:
        return self.builds.lock(wait=wait)

    def merge_lock(self) -> contextlib.AbstractContextManager[bool]:
        return self.builds.merge_lock()

    def current_name(self) -> str | None:
        return self.builds.current_name()

    def exists(self) -> bool:
        return self.builds.root.exists()

    def has_articles(self) -> bool:
        """Two system calls, no parsing: a built index, or an article file not yet indexed."""
        if self.builds.current_link.is_symlink():
            return True
        try:
            return any(
                not p.name.startswith(".") for p in self.articles.files.articles_dir.iterdir()
            )
        except OSError:
            return False
