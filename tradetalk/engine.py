"""The engine: articles + index + encoder, behind the few operations users need.

Both the CLI and the Discord bot drive this class. It is thread-safe: searches run in worker
threads while a rebuild or an ingest prepares the next index build, which is swapped in whole.

Several processes may share one data dir (the bot, a CLI ingest). Every write takes the
cross-process lock and starts from the newest build on disk, never from this process's
snapshot; before each question, one ``readlink`` tells whether another process published a
newer build, which is then loaded and swapped in. A swapped-out build closes only when the
last search holding it (a lease) finishes."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from config.settings import Settings
from corpus.articles import Article, parse_article, read_article
from corpus.library import BUNDLED_DIR, ArticleLibrary, SourceFile
from retrieval import crashpoints
from retrieval.build import Progress, SourcedArticle, add_articles, new_passages
from retrieval.encoder import (
    Encoder,
    default_model_path,
    load_encoder,
    model_fingerprint,
)
from retrieval.index import IndexData, PassageIndex
from retrieval.manifest import FORMAT_VERSION, read_manifest
from retrieval.question_analysis import QuestionAnalysis, analyze_question
from retrieval.records import ArticleInfo
from retrieval.search import Searcher, SearchResult
from retrieval.storage import IndexStorage
from retrieval.tokenize import tokenize
from tradetalk.abstention import AbstentionPolicy
from tradetalk.answer import Answer, AnswerPolicy, compose_answer
from tradetalk.errors import (
    ArticleError,
    ArticleNotFound,
    IndexBusy,
    IndexCorrupt,
    ReadOnlyArticle,
    StorageError,
    TradeTalkError,
)
from tradetalk.questions import FOLLOW_UP_WEIGHT, check_question, is_follow_up

log = logging.getLogger(__name__)
# How long an admin's write waits for a background merge to publish before "busy".
MERGE_PUBLICATION_WAIT_SECONDS = 30.0

# Passages whose sentences compete for the answer (the answer is chosen across all of them).
CANDIDATE_PASSAGES = 16


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


def years_of(articles: Iterable[ArticleInfo], today: dt.date) -> range:
    """The years `articles` cover ("in March" means March of one of these); this year if none
    is dated."""
    dates = [a.date for a in articles if a.date]
    if not dates:
        return range(today.year, today.year + 1)
    return range(int(min(dates)[:4]), int(max(dates)[:4]) + 1)


def coverage_of(articles: Iterable[ArticleInfo]) -> str:
    """What the articles cover, said when declining: how many, their dates, the last titles."""
    articles = [a for a in articles if not a.duplicate_of]
    if not articles:
        return "I have no articles yet."
    dates = sorted(a.date for a in articles if a.date)
    span = (
        f" from {dates[0]} to {dates[-1]}"
        if len(dates) > 1
        else (f" from {dates[0]}" if dates else "")
    )
    titles = "; ".join(f"“{a.title}”" for a in articles[-3:])
    more = f" and {len(articles) - 3} more" if len(articles) > 3 else ""
    count = f"{len(articles)} article{'s' if len(articles) != 1 else ''}"
    return f"They are {count}{span}: {titles}{more}."


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        encoder_factory: Callable[[], Encoder] | None = None,
        batch_queries: bool = False,
        bundled: bool = True,
    ) -> None:
        """`batch_queries` merges questions encoded at the same moment from several threads
        into one model call (`retrieval.batching`): for the bot, where a whole server asks at
        once; a one-shot CLI gains nothing from it. ``bundled=False`` leaves the bundled corpus
        out: a Discord server's own library (`tenancy`), searched beside the global one."""
        self.settings = settings
        self._batch_queries = batch_queries
        self.library = ArticleLibrary(
            settings.articles_dir,
            max_bytes=settings.max_article_bytes,
            bundled_dir=(settings.bundled_dir or BUNDLED_DIR) if bundled else None,
        )
        self.storage = IndexStorage(settings.index_dir)
        self._encoder = encoder
        self._encoder_factory = encoder_factory or self._default_encoder
        self._encoder_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one change at a time in this process
        self._index_lock = threading.Lock()  # guards which build is served, and its leases
        self._follow_lock = threading.Lock()  # one thread loads another process's build
        self._index: PassageIndex | None = None
        self._unusable: set[str] = set()  # builds on disk that failed to load: not retried
        self._coverage: tuple[PassageIndex, str] | None = None  # (index, its summary)
        self._years_of: tuple[PassageIndex, range] | None = None
        self._closing = False  # set by close(): a merge in progress stops after its step
        self._merge_publishing = False  # a merge holds the write lock to publish (briefly)
        self.rebuilding = False
        self._answer_policy: AnswerPolicy | None = None

    # -- set-up ---------------------------------------------------------------------------

    def _default_encoder(self) -> Encoder:
        encoder = load_encoder(
            self.settings.model_path,
            backend=self.settings.backend,
            cache_dir=self.settings.model_cache,  # where the ONNX export is kept
        )
        if self._batch_queries:
            from retrieval.batching import BatchingEncoder

            return BatchingEncoder(encoder)
        return encoder

    @property
    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
            return self._encoder

    @property
    def loaded_encoder(self) -> Encoder | None:
        """The encoder if it is loaded already (the model loads on first use)."""
        return self._encoder

    def expected_model_id(self) -> str:
        if self._encoder is not None:
            return self._encoder.model_id
        return model_fingerprint(Path(self.settings.model_path or default_model_path()))

    def expected_backend(self) -> str:
        """The backend the index must be built with: the given encoder's, else the setting's."""
        if self._encoder is not None:
            return str(getattr(self._encoder, "backend", self.settings.backend))
        return self.settings.backend

    @property
    def index(self) -> PassageIndex:
        """The build served now; a newer one another process published is swapped in first.
        Anything that reads passages from it should hold a lease instead (`leased`)."""
        if self._index is None:
            self.open()
        else:
            self._follow_disk()
        index = self._index
        if index is None:  # closed meanwhile
            raise IndexCorrupt("the index is closed")
        return index

    @contextlib.contextmanager
    def leased(self) -> Iterator[PassageIndex]:
        """The current build, kept open until the block ends even if newer builds are swapped
        in meanwhile (a search in flight across two ingests finishes on the build it began)."""
        self.index  # noqa: B018  (opens, or follows a newer build on disk)
        with self._index_lock:
            index = self._index
            if index is None:
                raise IndexCorrupt("the index is closed")
            index.acquire()
        try:
            yield index
        finally:
            index.release()

    def needs_build(self) -> bool:
        """True when opening will embed the whole corpus (first run, or another model)."""
        current = self.storage.current_dir()
        if current is None:
            return True
        try:
            manifest = read_manifest(current)
        except TradeTalkError:
            return True
        return (
            manifest.model_id != self.expected_model_id()
            or manifest.backend != self.expected_backend()
        )

    def open(self, progress: Progress | None = None) -> None:
        """Load the current index and bring it in line with the article files: embed new or
        changed articles only, drop removed ones; rebuild if built with another model."""
        with self._write_lock, self.storage.lock():
            self._open_locked(progress)

    def _open_locked(self, progress: Progress | None = None) -> None:
        with storage_errors("repair the index directory"):
            self.storage.recover()
            self.storage.prune()
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

    def loaded_bytes(self) -> int:
        """The size of the index files of the build served now (0 when none is open): what
        `tenancy` weighs against its memory budget. Vectors are memory-mapped, so this is what
        the build can occupy once its pages have been read, not what it occupies at once.
        A build is a list of segments, so their files are what is counted."""
        index = self._index
        if index is None:
            return 0
        return sum(
            int(f.get("size", 0))
            for segment in index.segments
            for f in segment.manifest.files.values()
        )

    def close(self) -> None:
        """Release the open index files (SQLite connections). Builds still leased by a search
        close when it finishes."""
        self._closing = True
        with self._index_lock:
            index, self._index = self._index, None
        if index is not None:
            index.retire()

    def _swap(self, index: PassageIndex) -> None:
        with self._index_lock:
            old, self._index = self._index, index
        if old is not None and old is not index:
            old.retire()  # closed now, or when the last search using it ends

    def _follow_disk(self) -> None:
        """Serve the build another process made current, if there is a newer one. Costs one
        ``readlink`` when there isn't; one thread loads it while the others keep answering
        from the build they have. Skipped while this process writes (its writer swaps)."""
        served = self._index
        name = self.storage.current_name()
        if (
            served is None
            or name is None
            or name == served.directory.name
            or name in self._unusable
            or self._write_lock.locked()
        ):
            return
        if not self._follow_lock.acquire(blocking=False):
            return
        try:
            if self._index is not served:
                return  # swapped while this thread waited
            try:
                index = self.storage.open_build(self.storage.builds / name)
            except IndexCorrupt as exc:
                log.warning("not serving build %s: %s", name, exc, exc_info=True)
                self._unusable.add(name)
                return
            if not self._compatible(index):
                log.warning("not serving build %s: made with another model or format", name)
                index.close()
                self._unusable.add(name)
                return
            log.info("serving build %s, published by another process", name)
            self._swap(index)
        finally:
            self._follow_lock.release()

    # -- questions ------------------------------------------------------------------------

    def search(
        self, question: str, k: int | None = None, *, previous: str | None = None
    ) -> SearchResult:
        """Passages for `question`; `previous` is the question it follows up, if any. The
        build it searches is leased for the whole search."""
        with self.leased() as index:
            vector = self.query_vector(question, previous)
            return self.search_index(index, question, k, vector=vector, previous=previous)

    def query_vector(self, question: str, previous: str | None = None) -> np.ndarray:
        """The vector a question is searched with: a follow-up leans on the question before
        it. Encoded once, it can search several libraries (`tenancy`)."""
        encode = Searcher.encode_query_with
        if previous and is_follow_up(question):
            vector = encode(self.encoder, question) * FOLLOW_UP_WEIGHT + encode(
                self.encoder, previous
            ) * (1 - FOLLOW_UP_WEIGHT)
            vector /= max(float((vector**2).sum() ** 0.5), 1e-9)
            return vector
        return encode(self.encoder, question)

    def search_index(
        self,
        index: PassageIndex,
        question: str,
        k: int | None = None,
        *,
        vector: np.ndarray,
        previous: str | None = None,
    ) -> SearchResult:
        """`search` in a build the caller holds (leased), with the question's `query_vector`."""
        context = previous if previous and is_follow_up(question) else None
        searcher = Searcher(index, self.encoder)
        return searcher.search(
            question, k or self.settings.top_k, query_vector=vector, context=context
        )

    def analyse(
        self, text: str, previous: str | None = None, *, years: range | None = None
    ) -> QuestionAnalysis:
        """What a checked question asks, read in the context of `previous` when it is a
        follow-up; `years` are the years the articles cover (default: this library's)."""
        years = years if years is not None else self._years()
        spellings = self.index.records.spellings
        analysis = analyze_question(text, today=self.today(), years=years, spellings=spellings)
        if previous and is_follow_up(text):
            # "and what did Trump say?" after "Who did Freeland meet?": about that meeting.
            earlier = analyze_question(previous, today=self.today(), years=years, parse=False)
            analysis = analysis.following(earlier)
        return analysis

    def check(self, question: str) -> str:
        """The question as it will be searched; raises `QuestionError` for empty, over-long or
        gibberish input."""
        searcher = Searcher(self.index, self.loaded_encoder)  # knows() needs no model
        return check_question(
            question,
            max_chars=self.settings.max_question_chars,
            known=lambda word: any(searcher.knows(t) for t in tokenize(word)),
        )

    @property
    def pool_size(self) -> int:
        """Passages whose sentences compete for the answer."""
        return max(CANDIDATE_PASSAGES, self.settings.top_k)

    def ask(self, question: str, *, previous: str | None = None) -> Answer:
        """Answer one question (in the context of `previous`, when it is a follow-up).
        Raises `QuestionError` for empty, over-long or gibberish input."""
        text = self.check(question)
        analysis = self.analyse(text, previous)
        result = self.search(text, self.pool_size, previous=previous)
        return compose_answer(
            result, analysis, self.answer_policy, coverage=self.coverage_summary()
        )

    @property
    def answer_policy(self) -> AnswerPolicy:
        """How answers are chosen and when to decline (the bench's calibration replaces it)."""
        if self._answer_policy is None:
            self._answer_policy = AnswerPolicy(
                top_k=self.settings.top_k,
                abstention=AbstentionPolicy(min_cosine=self.settings.abstain_threshold),
            )
        return self._answer_policy

    @answer_policy.setter
    def answer_policy(self, policy: AnswerPolicy) -> None:
        self._answer_policy = policy

    def today(self) -> dt.date:
        """The date "last week" is counted from (a method, so tests can fix it)."""
        return dt.date.today()

    def _years(self) -> range:
        """The years the articles cover: "in March" means March of one of these. Asked with
        every question, so worked out once per build (a pass over 100,000 articles is ms)."""
        index = self.index
        cached = self._years_of
        if cached is not None and cached[0] is index:
            return cached[1]
        years = years_of(index.articles.values(), self.today())
        self._years_of = (index, years)
        return years

    def coverage_summary(self) -> str:
        # Asked with every answer; at 100k articles building it costs more than the search.
        index = self.index
        cached = self._coverage
        if cached is not None and cached[0] is index:
            return cached[1]
        summary = self._coverage_of(index)
        self._coverage = (index, summary)
        return summary

    @staticmethod
    def _coverage_of(index: PassageIndex) -> str:
        return coverage_of(index.articles.values())

    # -- articles -------------------------------------------------------------------------

    def articles(self) -> list[ArticleInfo]:
        return sorted(self.index.articles.values(), key=lambda a: (a.date or "", a.id))

    def article(self, article_id: str) -> ArticleInfo:
        try:
            return self.index.articles[article_id]
        except KeyError:
            raise ArticleNotFound(f"no article with id {article_id!r}") from None

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
            with self.storage.lock(wait=wait):
                served = self._index
                if served is None or self.storage.current_name() != served.directory.name:
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

    def _files_of(self, index: PassageIndex, article_id: str) -> list[Path]:
        """Every added file the build read this article from, whatever its name."""
        keys = [k for k, v in index.sources.items() if v[1] == article_id]
        paths = [p for p in map(self.library.path_of, keys) if p is not None]
        return paths or [self.library.path_for(article_id)]

    def _add(
        self,
        index: PassageIndex,
        todo: list[tuple[int, Article]],
        outcomes: dict[int, IngestResult | TradeTalkError],
        progress: Progress | None,
    ) -> None:
        backups: dict[Path, bytes | None] = {}
        items: list[tuple[int, SourcedArticle]] = []
        try:
            for n, article in todo:
                own: dict[Path, bytes | None] = {}
                try:
                    items.append((n, self._save(index, article, own)))
                except (OSError, ArticleError) as exc:
                    if isinstance(exc, OSError) and exc.errno in DATA_DIR_ERRNOS:
                        backups = own | backups
                        raise storage_error("save the article", exc) from exc
                    # This article's own fault (a folder where its file goes, a file that does
                    # not read back): it alone is refused, and the rest of the batch goes on.
                    log.info("could not save article %s", article.id, exc_info=True)
                    self._restore(own)
                    refused = isinstance(exc, OSError)
                    outcomes[n] = storage_error("save the article", exc) if refused else exc
                    continue
                backups = own | backups
            if not items:
                return
            crashpoints.reached("article-file-written")
            sourced = [item for _, item in items]
            replaced = {item.article.id for item in sourced} & set(index.articles)
            added = new_passages(index, sourced, self.encoder, progress)
            with storage_errors("write the index"):
                new_index = self._publish_change(index, added, replaced)
        except BaseException:
            # Nothing half-done: put every article file back as it was.
            self._restore(backups)
            raise
        self._swap(new_index)
        for n, item in items:
            info = new_index.articles[item.article.id]
            status = "updated" if item.article.id in index.articles else "added"
            outcomes[n] = IngestResult(status, info, self._duplicate_of(info))

    def _save(
        self, index: PassageIndex, article: Article, backups: dict[Path, bytes | None]
    ) -> SourcedArticle:
        """Write one article's file (noting in `backups` what it replaces) and read it back as
        the index will. Raises `OSError` or `ArticleError`."""
        path = self.library.path_for(article.id)
        # An update replaces every file the old version was read from, so none of them brings
        # the old text back at the next start.
        old_files = self._files_of(index, article.id) if article.id in index.articles else []
        for old in {path, *old_files}:
            backups.setdefault(old, old.read_bytes() if old.exists() else None)
        for old in old_files:
            if old != path:
                old.unlink(missing_ok=True)
        saved = self.library.save(article)
        sha = hashlib.sha256(saved.read_bytes()).hexdigest()
        stored = read_article(saved, max_bytes=self.settings.max_article_bytes, stored=True)
        return SourcedArticle(f"added/{saved.name}", sha, stored)

    @staticmethod
    def _restore(backups: dict[Path, bytes | None]) -> None:
        for path, previous in backups.items():
            try:
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(previous)
            except OSError:  # the error being raised is the one the admin needs
                log.exception("could not restore %s", path)

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
            paths = self._files_of(index, article_id)
            backups = {p: p.read_bytes() for p in paths if p.exists()}
            try:
                with storage_errors("remove the article"):
                    for path in paths:
                        path.unlink(missing_ok=True)
                crashpoints.reached("article-file-removed")
                with storage_errors("write the index"):
                    self._swap(self._publish_change(index, None, {article_id}))
            except BaseException:
                self._restore(dict(backups))
                raise
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
        with self.storage.merge_lock() as ours:
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
            with self.storage.lock():
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
