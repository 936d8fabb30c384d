"""The passage index: vectors (FAISS), BM25, sentence vectors and records, as one unit.

`IndexData` is the in-memory form of passages being written (a whole build, or the articles an
ingest adds); `PassageIndex` is a loaded, read-only build that serves searches. A build is a
list of immutable segments (see `segment.py`): the index's rows are the served rows of its
segments in order, so every array, score and record it hands out is numbered exactly as one
index holding the same passages would number them. Search code cannot tell how many segments
there are, except by speed."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from errors import IndexCorrupt, IndexOutdated
from retrieval.dense import DenseHits
from retrieval.lexical import LexicalIndex, LexicalPart, Postings
from retrieval.manifest import (
    FORMAT_VERSION,
    read_manifest,
    verify_files,
)
from retrieval.records import (
    ArticleInfo,
    PassageRecord,
    PassageRef,
    StoredArticle,
    StoredPassage,
    in_catalogue_order,
)
from retrieval.segment import Segment, SegmentContent
from retrieval.text import passage_terms
from retrieval.tokenize import tokenize

SEGMENTS_DIR = "segments"  # next to builds/, under the index directory


def corpus_fingerprint(articles: dict[str, str]) -> str:
    """Hash of every (article id, content hash) pair: equal iff the corpus is the same."""
    payload = "\n".join(f"{k}:{v}" for k, v in sorted(articles.items()))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class IndexData:
    """Passages held in memory while they are being built: a whole index, or the articles an
    ingest adds to one (then `first_row` is the index's size, and a ``dup_of`` below it names a
    passage already in the index)."""

    model_id: str
    dimension: int
    backend: str
    articles: dict[str, ArticleInfo]
    passages: list[PassageRecord]  # passages[i].row == first_row + i
    passage_vectors: np.ndarray  # (passages, dimension) float32, L2-normalised
    sentence_vectors: np.ndarray  # (sentences, dimension) float32, L2-normalised
    sentence_ptr: np.ndarray  # (passages + 1,) int64: passage i owns rows ptr[i]:ptr[i+1]
    sources: dict[str, list[str]]  # article file name -> [file sha256, article id]
    encoder: dict[str, str] = field(default_factory=dict)  # the encoder that embedded it
    first_row: int = 0

    @classmethod
    def empty(
        cls, model_id: str, dimension: int, backend: str, encoder: dict[str, str] | None = None
    ) -> IndexData:
        return cls(
            model_id=model_id,
            dimension=dimension,
            backend=backend,
            articles={},
            passages=[],
            passage_vectors=np.zeros((0, dimension), np.float32),
            sentence_vectors=np.zeros((0, dimension), np.float32),
            sentence_ptr=np.zeros(1, np.int64),
            sources={},
            encoder=dict(encoder or {}),
        )

    def without_articles(self, article_ids: set[str]) -> IndexData:
        """A copy minus the given articles; rows are renumbered, nothing is re-embedded."""
        if not article_ids:
            return self
        assert self.first_row == 0, "only a whole index is renumbered"
        keep = [p.row for p in self.passages if p.article_id not in article_ids]
        renumber = {old: new for new, old in enumerate(keep)}
        passages = []
        for new, old in enumerate(keep):
            record = self.passages[old]
            dup = renumber.get(record.dup_of, -1) if record.dup_of >= 0 else -1
            passages.append(replace(record, row=new, dup_of=dup))
        lengths = np.diff(self.sentence_ptr)[keep] if keep else np.zeros(0, np.int64)
        sentence_rows = (
            np.concatenate(
                [np.arange(self.sentence_ptr[r], self.sentence_ptr[r + 1]) for r in keep]
            )
            if keep
            else np.zeros(0, np.int64)
        )
        articles = {
            k: replace(v, duplicate_of=None if v.duplicate_of in article_ids else v.duplicate_of)
            for k, v in self.articles.items()
            if k not in article_ids
        }
        return replace(
            self,
            articles=articles,
            passages=passages,
            passage_vectors=np.asarray(self.passage_vectors[keep], np.float32),
            sentence_vectors=np.asarray(self.sentence_vectors[sentence_rows], np.float32),
            sentence_ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            sources={k: v for k, v in self.sources.items() if v[1] not in article_ids},
        )

    def lexical_tokens(self, record: PassageRecord) -> list[str]:
        article = self.articles[record.article_id]
        return passage_terms(record.text, article.date, article.title)

    def segment_content(self, outside: PassageIndex | None = None) -> SegmentContent:
        """What the segment of these passages holds. A copy of a passage in `outside` (the
        index these passages are added to) is named by that passage's article."""
        first_rows: dict[str, int] = {}
        for n, record in enumerate(self.passages):
            first_rows.setdefault(record.article_id, n)

        def ref(row: int) -> PassageRef:
            if row >= self.first_row:
                target = self.passages[row - self.first_row]
                article = self.articles[target.article_id]
                ordinal = row - self.first_row - first_rows[target.article_id]
                return PassageRef(article.id, article.content_hash, ordinal)
            if outside is None:
                raise ValueError(f"row {row} is outside the passages being written")
            return outside.passage_ref(row)

        def hash_of(article_id: str) -> str | None:
            if article_id in self.articles:
                return self.articles[article_id].content_hash
            found = outside.articles.get(article_id) if outside is not None else None
            return found.content_hash if found else None

        stored_articles = []
        for article_id, info in self.articles.items():
            if article_id not in first_rows:
                continue  # no passages: nothing of it is searchable
            dup_hash = hash_of(info.duplicate_of) if info.duplicate_of else None
            stored_articles.append(StoredArticle(info, dup_hash, first_rows[article_id]))
        stored_passages = [
            StoredPassage(
                replace(record, row=n, dup_of=-1),
                ref(record.dup_of) if record.dup_of >= 0 else None,
            )
            for n, record in enumerate(self.passages)
        ]
        ids = {s.info.id for s in stored_articles}
        return SegmentContent(
            articles=stored_articles,
            passages=stored_passages,
            passage_vectors=np.ascontiguousarray(self.passage_vectors, np.float32),
            sentence_vectors=np.ascontiguousarray(self.sentence_vectors, np.float32),
            sentence_ptr=np.asarray(self.sentence_ptr - self.sentence_ptr[0], np.int64),
            postings=Postings.build([self.lexical_tokens(p) for p in self.passages]),
            sources={k: list(v) for k, v in self.sources.items() if v[1] in ids},
        )


# -- a loaded build ---------------------------------------------------------------------------


@dataclass
class _Part:
    """One segment as a build serves it."""

    segment: Segment
    removed: frozenset[str]  # its articles this build no longer serves
    offset: int  # index row of its first served passage
    count: int  # passages served
    sentence_offset: int
    live: np.ndarray | None = None  # segment rows served, ascending (None: all of them)
    served: np.ndarray | None = None  # index row of each segment row, -1 if not served
    live_sentences: np.ndarray | None = None  # segment sentence rows served
    sentence_ptr: np.ndarray | None = None  # served passages' sentences, from 0

    def local(self, rows: np.ndarray) -> np.ndarray:
        """Segment rows of index rows that fall in this part."""
        within = rows - self.offset
        return within if self.live is None else self.live[within]

    def index_row(self, local: int) -> int:
        if self.served is None:
            return self.offset + local
        return int(self.served[local])


def _build_part(segment: Segment, removed: frozenset[str], offset: int, sentence_offset: int):
    unknown = removed - set(segment.articles)
    if unknown:
        raise IndexCorrupt(f"a build removes articles segment {segment.id} does not hold")
    n = len(segment)
    if not removed:
        return _Part(
            segment, removed, offset, n, sentence_offset, sentence_ptr=segment.sentence_ptr
        )
    keep = np.ones(n, bool)
    for article_id in removed:
        keep[segment.rows_of(article_id).start : segment.rows_of(article_id).stop] = False
    live = np.flatnonzero(keep)
    served = np.full(n, -1, np.int64)
    served[live] = offset + np.arange(len(live))
    ptr = segment.sentence_ptr
    counts = ptr[live + 1] - ptr[live]
    starts = np.cumsum(counts) - counts
    live_sentences = np.repeat(ptr[live] - starts, counts) + np.arange(int(counts.sum()))
    return _Part(
        segment,
        removed,
        offset,
        len(live),
        sentence_offset,
        live=live,
        served=served,
        live_sentences=live_sentences,
        sentence_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


class RowsView:
    """Several segments' vector arrays as one, numbered as the index numbers its rows: indexing
    with an array of rows (or a slice) gathers them from their segments."""

    def __init__(self, arrays: list[np.ndarray], starts: list[int], maps: list, dimension: int):
        self._arrays = arrays
        self._starts = np.asarray(starts, np.int64)  # len(arrays) + 1
        self._maps = maps  # per array: served rows -> its own rows (None: the same)
        self.shape = (int(self._starts[-1]), dimension)
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            rows = np.arange(*key.indices(self.shape[0]))
        else:
            rows = np.asarray(key, np.int64)
            if rows.ndim == 0:
                return self[rows[None]][0]
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
        out = np.empty((len(rows), self.shape[1]), np.float32)
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for n in np.unique(which):
            mask = which == n
            local = rows[mask] - self._starts[n]
            mapping = self._maps[n]
            out[mask] = self._arrays[n][local if mapping is None else mapping[local]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[slice(None)]
        return whole if dtype is None else whole.astype(dtype)


class SegmentedDense:
    """Nearest passages over every segment's vector index: each searched for its best, the
    lists merged by score (a tie goes to the lower row, as within one index)."""

    def __init__(self, parts: list[_Part]) -> None:
        self._parts = [p for p in parts if p.count]
        biggest = max(self._parts, key=lambda p: p.count, default=None)
        self.kind = biggest.segment.dense.kind if biggest else "flat"
        self._count = sum(p.count for p in self._parts)

    def __len__(self) -> int:
        return self._count

    def search(self, queries: np.ndarray, k: int) -> DenseHits:
        queries = np.ascontiguousarray(queries, np.float32)
        k = max(1, min(k, len(self)))
        if not len(self):
            empty = np.full((len(queries), 0), -1, dtype=np.int64)
            return DenseHits(empty, empty.astype(np.float32))
        ids, scores = [], []
        for part in self._parts:
            removed = len(part.segment) - part.count  # asked for extra: some may be removed
            hits = part.segment.dense.search(queries, min(len(part.segment), k + removed))
            found = hits.ids >= 0
            safe = np.where(found, hits.ids, 0)
            rows = part.offset + safe if part.served is None else part.served[safe]
            rows = np.where(found, rows, -1)
            ids.append(rows)
            scores.append(np.where(rows >= 0, hits.scores, -np.inf).astype(np.float32))
        all_ids = np.concatenate(ids, axis=1)
        all_scores = np.concatenate(scores, axis=1)
        out_ids = np.full((len(queries), k), -1, np.int64)
        out_scores = np.full((len(queries), k), -np.inf, np.float32)
        for q in range(len(queries)):
            order = np.lexsort((all_ids[q], -all_scores[q]))[:k]
            out_ids[q, : len(order)] = all_ids[q, order]
            out_scores[q, : len(order)] = all_scores[q, order]
        out_ids[~np.isfinite(out_scores)] = -1
        return DenseHits(out_ids, out_scores)


class SegmentedRecords:
    """Passage records of every segment, numbered as the index numbers its rows; a copy's
    ``dup_of`` is the row of the passage it copies, or -1 if that passage is no longer served."""

    def __init__(self, index: PassageIndex) -> None:
        self._index = index

    def passages(self, rows: list[int]) -> dict[int, PassageRecord]:
        if not rows:
            return {}
        index = self._index
        wanted = np.asarray(rows, np.int64)
        which = np.searchsorted(index._starts, wanted, side="right") - 1
        out: dict[int, PassageRecord] = {}
        for n in np.unique(which):
            part = index._parts[n]
            rows_here = wanted[which == n]
            local = part.local(rows_here)
            stored = part.segment.records.passages([int(r) for r in local])
            for row, own in zip(rows_here, local, strict=True):
                item = stored.get(int(own))
                if item is None:
                    raise IndexCorrupt(f"passage {own} of segment {part.segment.id} is missing")
                out[int(row)] = index._served_record(item, int(row))
        return out

    def spellings(self, words: Iterable[str]) -> dict[str, str]:
        """For each lower-case word the articles use as a proper noun, its most common
        spelling ("trump" -> "Trump", "wto" -> "WTO")."""
        words = list(words)
        counts: dict[str, dict[str, int]] = {}
        for part in self._index._parts:
            for lower, found in part.segment.records.spellings(words).items():
                mine = counts.setdefault(lower, {})
                for surface, n in found.items():
                    mine[surface] = mine.get(surface, 0) + n
        return {lower: max(found, key=found.get) for lower, found in counts.items()}

    def iter_passages(self) -> Iterator[PassageRecord]:
        index = self._index
        for part in index._parts:
            if not part.count:
                continue
            for stored in part.segment.records.iter_passages():
                row = part.index_row(stored.record.row)
                if row >= 0:
                    yield index._served_record(stored, row)


class PassageIndex:
    """One loaded build. Read-only: changes produce a new build, which lists the same segments
    (shared, not copied) plus new ones.

    Searches hold a lease on the build they use (`acquire` / `release`). When a newer build
    replaces it, the old one is `retire`d and closes when its last lease is released, so a
    search in flight finishes on the build it started with, however many swaps happen."""

    def __init__(
        self, directory: Path, *, verify: bool = True, reuse: Iterable[Segment] = ()
    ) -> None:
        """`reuse`: segments already open in this process (those of the build served until
        now); a segment this build lists with the same digest is shared, not read again."""
        self.directory = directory
        self._leases = 0
        self._retired = False
        self.closed = False
        self._lease_lock = threading.Lock()
        self._parts: list[_Part] = []
        self.manifest = read_manifest(directory)
        m = self.manifest
        if m.format_version != FORMAT_VERSION:
            # Its files mean something else (another records schema, other tokens): read
            # nothing, so the engine rebuilds from the article files.
            raise IndexOutdated(
                f"index build {directory.name} has format {m.format_version}; "
                f"this TradeTalk reads format {FORMAT_VERSION}"
            )
        if verify:
            verify_files(directory, m)
        segments = self._open_segments(directory.parent.parent / SEGMENTS_DIR, verify, reuse)
        try:
            self._assemble(segments, {e.id: frozenset(e.removed) for e in m.segments})
        except BaseException:
            for segment in segments:
                segment.release()
            raise
        shapes_ok = (
            self._count == m.passage_count
            and int(self.sentence_ptr[-1]) == m.sentence_count
            and len(self.articles) == m.article_count
            and {s.manifest.dimension for s in segments} <= {m.dimension}
        )
        if not shapes_ok:
            self.close()
            raise IndexCorrupt(f"index build {directory.name} does not match its manifest")

    def _open_segments(self, root: Path, verify: bool, reuse: Iterable[Segment]) -> list[Segment]:
        known = {s.id: s for s in reuse}
        opened: list[Segment] = []
        try:
            for entry in self.manifest.segments:
                segment = known.get(entry.id)
                if segment is not None and segment.digest == entry.sha256:
                    try:
                        opened.append(segment.acquire())
                        continue
                    except IndexCorrupt:  # closed meanwhile: read it again
                        pass
                try:
                    segment = Segment(root / entry.id, verify=verify)
                except (OSError, RuntimeError, ValueError) as exc:  # faiss raises RuntimeError
                    raise IndexCorrupt(f"index segment {entry.id} cannot be read: {exc}") from exc
                if segment.digest != entry.sha256:
                    segment.close()
                    raise IndexCorrupt(f"index segment {entry.id} is not the one the build lists")
                opened.append(segment.acquire())
        except BaseException:
            for segment in opened:
                segment.release()
            raise
        return opened

    def _assemble(self, segments: list[Segment], removed: dict[str, frozenset[str]]) -> None:
        offset = sentences = 0
        for segment in segments:
            part = _build_part(segment, removed.get(segment.id, frozenset()), offset, sentences)
            self._parts.append(part)
            offset += part.count
            sentences += int(part.sentence_ptr[-1])
        self._count = offset
        parts = self._parts
        self._starts = np.asarray([p.offset for p in parts] + [offset], np.int64)
        dimension = self.manifest.dimension
        if len(parts) == 1 and parts[0].live is None:
            # One segment served whole (every full build): its own arrays, no view in between.
            only = parts[0].segment
            self.passage_vectors = only.passage_vectors
            self.sentence_vectors = only.sentence_vectors
            self.sentence_ptr = only.sentence_ptr
            self.dense = only.dense
        else:
            self.passage_vectors = RowsView(
                [p.segment.passage_vectors for p in parts],
                list(self._starts),
                [p.live for p in parts],
                dimension,
            )
            self.sentence_vectors = RowsView(
                [p.segment.sentence_vectors for p in parts],
                [p.sentence_offset for p in parts] + [sentences],
                [p.live_sentences for p in parts],
                dimension,
            )
            self.sentence_ptr = np.concatenate(
                [np.zeros(1, np.int64)] + [p.sentence_ptr[1:] + p.sentence_offset for p in parts]
            ).astype(np.int64)
            self.dense = SegmentedDense(parts)
        self.lexical = LexicalIndex(
            [LexicalPart(p.segment.postings, p.offset, p.served) for p in parts], offset
        )
        self.records = SegmentedRecords(self)
        self.articles = self._served_articles()

    @property
    def segments(self) -> list[Segment]:
        return [p.segment for p in self._parts]

    @property
    def parts(self) -> list[_Part]:
        return list(self._parts)

    def _served_articles(self) -> dict[str, ArticleInfo]:
        served = []
        for part in self._parts:
            for article_id, stored in part.segment.articles.items():
                if article_id in part.removed:
                    continue
                info = stored.info
                if info.duplicate_of and self._live_hash(info.duplicate_of) != (
                    stored.duplicate_of_hash
                ):
                    info = replace(info, duplicate_of=None)  # what it copied is gone or edited
                served.append(info)
        return {a.id: a for a in in_catalogue_order(served)}

    def _locate(self, article_id: str) -> tuple[_Part, StoredArticle] | None:
        """The part serving `article_id` (an id is served from one segment at most)."""
        for part in reversed(self._parts):
            stored = part.segment.articles.get(article_id)
            if stored is not None and article_id not in part.removed:
                return part, stored
        return None

    def _live_hash(self, article_id: str) -> str | None:
        found = self._locate(article_id)
        return found[1].info.content_hash if found else None

    def _served_record(self, stored: StoredPassage, row: int) -> PassageRecord:
        dup = -1
        ref = stored.copy_of
        if ref is not None:
            found = self._locate(ref.article_id)
            if found is not None and found[1].info.content_hash == ref.content_hash:
                part, target = found
                if 0 <= ref.ordinal < target.info.passage_count:
                    dup = part.index_row(target.first_row + ref.ordinal)
        record = stored.record
        if record.row == row and record.dup_of == dup:
            # The first segment's rows are the index's (most candidates come from it): the
            # frozen record serves as it is; a copy per candidate cost ~0.7 ms an answer.
            return record
        return replace(record, row=row, dup_of=dup)

    def passage_ref(self, row: int) -> PassageRef:
        """How a new segment names the passage at `row` of this index (it copies it)."""
        record = self.records.passages([row])[row]
        article = self.articles[record.article_id]
        return PassageRef(
            article.id, article.content_hash, row - self.article_rows(article.id).start
        )

    def article_rows(self, article_id: str) -> range:
        """The rows of an article's passages in this index."""
        found = self._locate(article_id)
        if found is None:
            raise KeyError(article_id)
        part, stored = found
        start = part.index_row(stored.first_row)
        return range(start, start + stored.info.passage_count)

    @functools.cached_property
    def sources(self) -> dict[str, list[str]]:
        """Article file -> [its sha256, the article id] for every article served, whichever
        segment holds it (a file a later segment re-read replaces the earlier entry)."""
        found: dict[str, list[str]] = {}
        for part in self._parts:
            for key, (sha, article_id) in part.segment.manifest.sources.items():
                if article_id not in part.removed:
                    found[key] = [sha, article_id]
        return {k: v for k, v in found.items() if v[1] in self.articles}

    def __len__(self) -> int:
        return self._count

    def document_frequency(self, term: str) -> int:
        """How many passages use `term` (a `tokenize` stem)."""
        return self.lexical.document_frequency(term)

    @functools.cached_property
    def metadata_terms(self) -> frozenset[str]:
        """Stems of the outlets' names: "what did Bloomberg report?" names a source the
        article text may never mention (titles are in BM25 already)."""
        outlets = {a.source for a in self.articles.values()}
        return frozenset(t for source in outlets for t in tokenize(source))

    @property
    def version(self) -> str:
        """Changes with every build: caches key on it."""
        return self.directory.name

    def acquire(self) -> None:
        with self._lease_lock:
            if self.closed:
                raise IndexCorrupt(f"index build {self.directory.name} is already closed")
            self._leases += 1

    def release(self) -> None:
        with self._lease_lock:
            self._leases -= 1
            last = self._retired and self._leases == 0
        if last:
            self.close()

    def retire(self) -> None:
        """No new lease will be taken: close now if nothing holds it, else on the last release."""
        with self._lease_lock:
            self._retired = True
            idle = self._leases == 0
        if idle:
            self.close()

    @property
    def leases(self) -> int:
        return self._leases

    def close(self) -> None:
        """Let go of its segments; each closes when no build in this process holds it."""
        with self._lease_lock:
            if self.closed:
                return
            self.closed = True
        for part in self._parts:
            part.segment.release()

    def to_data(self) -> IndexData:
        """Every served passage in memory, as one index (for a rebuild of the same passages)."""
        m = self.manifest
        every = np.arange(len(self))
        sentences = np.arange(int(self.sentence_ptr[-1]))
        return IndexData(
            model_id=m.model_id,
            dimension=m.dimension,
            backend=m.backend,
            articles=dict(self.articles),
            passages=list(self.records.iter_passages()),
            passage_vectors=np.array(self.passage_vectors[every], np.float32),
            sentence_vectors=np.array(self.sentence_vectors[sentences], np.float32),
            sentence_ptr=np.array(self.sentence_ptr, np.int64),
            sources={k: list(v) for k, v in self.sources.items()},
            encoder=dict(m.encoder),
        )
