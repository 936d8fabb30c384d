"""The reading half of the engine: the build served now, searches and answers.

A search leases the build that is current when it starts; before each question one cheap
check (a ``readlink`` on the local store) tells whether another process published a newer
build, which one thread then loads and swaps in while the others keep answering. A swapped-out
build closes only when the last search holding it finishes. `Engine` (``engine.py``) combines
this with the writing half (``writing.py``), which publishes the builds this half serves."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from config.settings import Settings
from retrieval.encoder import Encoder
from retrieval.index import PassageIndex
from retrieval.question_analysis import QuestionAnalysis, analyze_question
from retrieval.records import ArticleInfo
from retrieval.search import Searcher, SearchResult
from retrieval.storage import IndexStorage
from retrieval.tokenize import tokenize
from storage.base import LibraryStore
from tradetalk.abstention import AbstentionPolicy
from tradetalk.answer import Answer, AnswerPolicy, compose_answer
from tradetalk.errors import ArticleNotFound, IndexCorrupt
from tradetalk.questions import FOLLOW_UP_WEIGHT, check_question, is_follow_up

log = logging.getLogger("tradetalk.engine")

# Passages whose sentences compete for the answer (the answer is chosen across all of them).
CANDIDATE_PASSAGES = 16


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


class Reading:
    """Serving a library: the current build (leased by each search), following builds other
    processes publish, search, answers and the article list. Part of `Engine`, which sets the
    attributes below."""

    settings: Settings
    storage: IndexStorage
    store: LibraryStore
    encoder: Encoder
    _index: PassageIndex | None
    _index_lock: threading.Lock
    _follow_lock: threading.Lock
    _write_lock: threading.Lock
    _unusable: set[str]
    _coverage: tuple[PassageIndex, str] | None
    _years_of: tuple[PassageIndex, range] | None
    _answer_policy: AnswerPolicy | None

    if TYPE_CHECKING:  # the writing half's

        def open(self) -> None: ...

        def _compatible(self, index: PassageIndex) -> bool: ...

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
        name = self.store.current_name()
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
                self.store.refresh()  # a cache fetches the build first (or a newer one)
                name = self.storage.current_name() or name
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
