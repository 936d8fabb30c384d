"""The writing half of the engine: loading a library and bringing it in line with its articles,
ingesting, removing, merging segments and rebuilding. Every write takes the write lock, in this
process and across processes, and starts from the newest build the store holds, whichever
process published it; the build it publishes is swapped in by the reading half
(``reading.py``). `Engine` (``engine.py``) combines the two."""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import Settings
from corpus.articles import Article, parse_article, read_article
from corpus.library import SourceFile
from retrieval import crashpoints
from retrieval.build import Progress, SourcedArticle, add_articles, new_passages
from retrieval.encoder import Encoder
from retrieval.index import IndexData, PassageIndex
from retrieval.manifest import FORMAT_VERSION
from retrieval.records import ArticleInfo
from retrieval.storage import IndexStorage
from storage.base import ArticleSources, LibraryStore
from tradetalk.errors import (
    ArticleError,
    ArticleNotFound,
    IndexBusy,
    ReadOnlyArticle,
    StorageError,
    TradeTalkError,
)

log = logging.getLogger("tradetalk.engine")
# How long an admin's write waits for a background merge to publish before "busy".
MERGE_PUBLICATION_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class IngestResult:
    status: str  # "added", "updated" or "unchanged"
    article: ArticleInfo
    duplicate_of: ArticleInfo | None = None


# A save failing with one of these fails for every article (the disk or the folder can take
# nothing); any other failure is the one article's (a folder where its file goes, say).
DATA_DIR_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)


def storage_error(action: str, exc: OSError) -> StorageError:
    """One clear line for the admin: disk full, read-only, missing permissions."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"could not {action}: no space left on the data disk")
    return StorageError(f"could not {action} in the data directory: {exc.strerror or exc}")


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise storage_error(action, exc) from exc


class Writing:
    """Loading and changing a library. Part of `Engine`, which sets the attributes below and
    provides the reading half's `_swap`, `index` and `leased`."""

    settings: Settings
    library: ArticleSources
    store: LibraryStore
    storage: IndexStorage
    encoder: Encoder
    rebuilding: bool
    _index: PassageIndex | None
    _write_lock: threading.Lock
    _closing: bool
    _merge_publishing: bool

    if TYPE_CHECKING:  # the engine's and the reading half's

        def expected_model_id(self) -> str: ...

        def expected_backend(self) -> str: ...

        def _swap(self, index: PassageIndex) -> None: ...

        @property
        def index(self) -> PassageIndex: ...

        def leased(self) -> contextlib.AbstractContextManager[PassageIndex]: ...

    def open(self, progress: Progress | None = None) -> None:
        """Load the current index and bring it in line with the article files: embed new or
        changed articles only, drop removed ones; rebuild if built with another model."""
        with self._write_lock, self.store.lock():
            self._open_locked(progress)

    def _open_locked(self, progress: Progress | None = None) -> None:
        with storage_errors("repair the index directory"):
            self.storage.recover()
            self.storage.prune()
        self.store.refresh()  # a cache fetches the store's current build
        served = self._index
        # Segments this process has open already are shared, not read and checked again.
        index = self.storage.load(reuse=served.segments if served is not None else ())
        if index is not None and not self._compatible(index):
            log.info("index was built with another model or format; rebuilding")
            index.close()
            index = None
        scan = self.library.scan()
        if index is None:
            with storage_errors("write the index"):
                self._swap(self._publish(self._full_build(scan, progress)))
            return
        sources = index.sources
        changed = [s for k, s in scan.items() if sources.get(k, [""])[0] != s.sha256]
        gone = {v[1] for k, v in sources.items() if k not in scan}
        if not changed and not gone:
            self._swap(index)
            return
        log.info(
            "corpus changed (%d new/changed files, %d removed); updating index",
            len(changed),
            len(gone),
        )
        items = self._read_sources(changed)
        replaced = {i.article.id for i in items} & set(index.articles)
        try:
            added = new_passages(index, items, self.encoder, progress, leaving=gone)
            with storage_errors("write the index"):
                self._swap(self._publish_change(index, added, gone | replaced))
        finally:
            index.close()  # not served: the new build holds the segments it shares

    def _compatible(self, index: PassageIndex) -> bool:
        m = index.manifest
        return (
            m.format_version == FORMAT_VERSION
            and m.model_id == self.expected_model_id()
            and m.backend == self.expected_backend()
        )

    def _read_sources(self, sources: list[SourceFile]) -> list[SourcedArticle]:
        items = []
        for source in sources:
            try:
                items.append(SourcedArticle(source.key, source.sha256, self.library.read(source)))
            except ArticleError as exc:
                log.warning("skipping unreadable article file: %s", exc)
        return items

    def _full_build(self, scan: dict[str, SourceFile], progress: Progress | None) -> IndexData:
        encoder = self.encoder
        empty = IndexData.empty(
            encoder.model_id,
            encoder.dimension,
            self.expected_backend(),
            getattr(encoder, "description", None),
        )
        return add_articles(empty, self._read_sources(list(scan.values())), encoder, progress)

    def _publish(self, data: IndexData) -> PassageIndex:
        """A whole new index (one segment)."""
        return PassageIndex(self.storage.publish(data), verify=False)

    def _publish_change(
        self, index: PassageIndex, added: IndexData | None, removed: set[str]
    ) -> PassageIndex:
        """The next build after `index`: its segments, shared, plus one for `added`."""
        directory = self.storage.publish_change(index, added, removed)
        return PassageIndex(directory, verify=False, reuse=index.segments)

    def ingest_path(self, path: Path, progress: Progress | None = None) -> IngestResult:
        article = read_article(path, max_bytes=self.settings.max_article_bytes)
        return self.ingest_article(article, progress)

    def ingest_bytes(
        self,
        data: bytes,
        name: str,
        defaults: dict[str, object] | None = None,
        *,
        fetched_from: str | None = None,
        wait: bool = True,
    ) -> IngestResult:
        """Ingest an attachment or a downloaded page. `fetched_from` is the URL TradeTalk
        fetched it from: the article's identity and link (`corpus.articles.Article`)."""
        article = parse_article(
            data,
            name,
            max_bytes=self.settings.max_article_bytes,
            defaults=defaults,
            fetched_from=fetched_from,
        )
        return self.ingest_article(article, wait=wait)

    @contextlib.contextmanager
    def _writing(self, wait: bool) -> Iterator[PassageIndex]:
        """The write lock, in this process and across processes, and the build to start from:
        the newest on disk, whichever process wrote it. With ``wait=False`` a busy index
        raises `IndexBusy` at once instead of queueing behind a rebuild."""
        if not self._write_lock.acquire(blocking=wait) and not self._after_merge_publication():
            raise IndexBusy("a reindex or ingest is running; try again when it finishes")
        try:
            with self.store.lock(wait=wait):
                served = self._index
                if served is None or self.store.current_name() != served.directory.name:
                    self._open_locked()  # another process wrote since: start from its build
                assert self._index is not None  # _open_locked always serves a build
                yield self._index
        finally:
            self._write_lock.release()

    def _after_merge_publication(self) -> bool:
        """The write lock, if what holds it is a background merge publishing its segment (a
        manifest and a switch: milliseconds). An admin's ingest waits for that rather than be
        told the index is busy; behind an ingest or a rebuild it is told at once."""
        if self._merge_publishing:
            return self._write_lock.acquire(timeout=MERGE_PUBLICATION_WAIT_SECONDS)
        return self._write_lock.acquire(blocking=False)  # released since the first try

    def ingest_article(
        self, article: Article, progress: Progress | None = None, *, wait: bool = True
    ) -> IngestResult:
        """Store an article and index it (embedding only its passages). Idempotent."""
        (outcome,) = self.ingest_articles([article], progress, wait=wait)
        if isinstance(outcome, TradeTalkError):
            raise outcome
        return outcome

    def ingest_articles(
        self, articles: Sequence[Article], progress: Progress | None = None, *, wait: bool = True
    ) -> list[IngestResult | TradeTalkError]:
        """Store several articles and index them in one build: one embedding pass and one
        write, where a build per article would copy the whole index once per file. Returns,
        in order, each article's result, or the error that refused it (a bundled article can't
        be replaced). A failure to embed or write refuses them all and restores their files."""
        with self._writing(wait) as index:
            outcomes: dict[int, IngestResult | TradeTalkError] = {}
            latest = {article.id: n for n, article in enumerate(articles)}  # same id: last wins
            todo: list[tuple[int, Article]] = []
            for n, article in enumerate(articles):
                existing = index.articles.get(article.id)
                if latest[article.id] != n:
                    continue  # answered with the later copy's result below
                if existing and existing.content_hash == article.content_hash:
                    outcomes[n] = IngestResult("unchanged", existing, self._duplicate_of(existing))
                elif existing and existing.bundled:
                    outcomes[n] = ReadOnlyArticle(
                        f"{article.id} is in the bundled corpus and can't be replaced"
                    )
                elif existing and existing.fetched_from != article.fetched_from:
                    # Ids derive from identity, so only a hash clash gets here: never replace.
                    outcomes[n] = ArticleError(
                        f"{article.id} already names another article; nothing was changed"
                    )
                else:
                    todo.append((n, article))
            if todo:
                self._add(index, todo, outcomes, progress)
            return [outcomes[latest[article.id]] for article in articles]

    @staticmethod
    def _sources_of(index: PassageIndex, article_id: str) -> list[str]:
        """Every source the build read this article from, whatever its name."""
        return [k for k, v in index.sources.items() if v[1] == article_id]

    def _add(
        self,
        index: PassageIndex,
        todo: list[tuple[int, Article]],
        outcomes: dict[int, IngestResult | TradeTalkError],
        progress: Progress | None,
    ) -> None:
        items: list[tuple[int, SourcedArticle]] = []
        # Nothing half-done: if anything below fails, every article is put back as it was.
        with self.library.staging() as staging:
            for n, article in todo:
                replacing = (
                    self._sources_of(index, article.id) if article.id in index.articles else []
                )
                try:
                    items.append((n, staging.save(article, replacing)))
                except (OSError, ArticleError) as exc:
                    if isinstance(exc, OSError) and exc.errno in DATA_DIR_ERRNOS:
                        raise storage_error("save the article", exc) from exc
                    # This article's own fault (a folder where its file goes, a file that does
                    # not read back): it alone is refused (the staging put back what it
                    # touched), and the rest of the batch goes on.
                    log.info("could not save article %s", article.id, exc_info=True)
                    refused = isinstance(exc, OSError)
                    outcomes[n] = storage_error("save the article", exc) if refused else exc
            if not items:
                return
            crashpoints.reached("article-file-written")
            sourced = [item for _, item in items]
            replaced = {item.article.id for item in sourced} & set(index.articles)
            added = new_passages(index, sourced, self.encoder, progress)
            with storage_errors("write the index"):
                new_index = self._publish_change(index, added, replaced)
        self._swap(new_index)
        for n, item in items:
            info = new_index.articles[item.article.id]
            status = "updated" if item.article.id in index.articles else "added"
            outcomes[n] = IngestResult(status, info, self._duplicate_of(info))

    def _duplicate_of(self, info: ArticleInfo) -> ArticleInfo | None:
        return self.index.articles.get(info.duplicate_of) if info.duplicate_of else None

    def remove(self, article_id: str, *, wait: bool = True) -> ArticleInfo:
        """Take an added article out: every file it was read from, whatever its name (one
        left behind would bring it back at the next start), then the index."""
        with self._writing(wait) as index:
            info = index.articles.get(article_id)
            if info is None:
                raise ArticleNotFound(
                    f"no article with id {article_id!r} (see `tradetalk articles`)"
                )
            if info.bundled:
                raise ReadOnlyArticle(
                    f"{article_id} is part of the bundled corpus and can't be removed"
                )
            with self.library.staging() as staging:
                with storage_errors("remove the article"):
                    staging.delete(article_id, self._sources_of(index, article_id))
                crashpoints.reached("article-file-removed")
                with storage_errors("write the index"):
                    self._swap(self._publish_change(index, None, {article_id}))
            return info

    # -- merging segments -----------------------------------------------------------------

    def merge_pending(self) -> bool:
        """Would `merge` do anything? (Cheap: the sizes of the served build's segments.)"""
        from retrieval.merging import plan_for

        return plan_for(self.index) is not None

    def merge(self, *, limit: int = 64) -> int:
        """Merge segments while the policy asks for it (`retrieval.merging`); the number of
        merges published. The merging itself holds no write lock: questions are answered,
        and articles added or removed, meanwhile; each merge's publication takes it briefly.
        Returns 0 at once if another thread or process is merging."""
        from retrieval import merging

        done = 0
        with self.store.merge_lock() as ours:
            if not ours:
                return 0
            for _ in range(limit):
                if self._closing:
                    break
                with self.leased() as snapshot:
                    span = merging.plan_for(snapshot)
                    if span is None:
                        break
                    with storage_errors("merge index segments"):
                        merged = merging.write_merged(self.storage, snapshot, *span)
                with self._writing(wait=True) as current, storage_errors("write the index"):
                    self._merge_publishing = True
                    try:
                        directory = merging.publish_merged(self.storage, current, merged)
                        if directory is None:  # a rebuild came first: plan again on its segments
                            continue
                        self._swap(PassageIndex(directory, verify=False, reuse=current.segments))
                    finally:
                        self._merge_publishing = False
                done += 1
                log.info("merged %d index segments into one", span[1] - span[0])
        return done

    def rebuild(self, progress: Progress | None = None) -> PassageIndex:
        """Re-embed everything into a new build; searches use the old one until the swap."""
        if not self._write_lock.acquire(blocking=False):
            raise IndexBusy("a reindex or ingest is already running; try again when it finishes")
        self.rebuilding = True
        try:
            with self.store.lock():
                with storage_errors("repair the index directory"):
                    self.storage.recover()
                data = self._full_build(self.library.scan(), progress)
                with storage_errors("write the index"):
                    new_index = self._publish(data)
                self._swap(new_index)
                return new_index
        finally:
            self.rebuilding = False
            self._write_lock.release()
