"""BM25 over the passages of an index made of several segments, scored with corpus-wide
statistics.

Each segment keeps raw postings (term -> passage rows and term frequencies) and every passage's
length, never precomputed scores: BM25's idf and length normalisation depend on the whole
corpus (document frequencies, average length), so a score stored in one segment would go stale
the moment another segment is added. At query time the statistics are summed over the
segments, which gives every passage exactly the score a single index over the same passages
would (`tests/unit/test_segmented_index.py` compares them, and with bm25s).

The formula is bm25s's default ("lucene"), which this index used before it had segments:
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf / (tf + k1·(1 - b + b·len/avglen)).

On disk (one directory per segment, no pickle): ``terms.json`` (the vocabulary, sorted),
``indptr.npy`` (where each term's postings start), ``rows.npy`` (int32 rows, ascending within
a term), ``tf.npy`` (float32) and ``doc_len.npy`` (float32 tokens per passage)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from errors import IndexCorrupt

K1 = 1.2
B = 0.75
TERMS = "terms.json"
INDPTR = "indptr.npy"
ROWS = "rows.npy"
TF = "tf.npy"
DOC_LEN = "doc_len.npy"


@dataclass
class Postings:
    """One segment's postings, by term. Rows are the segment's own (0-based)."""

    terms: dict[str, int]  # term -> column
    indptr: np.ndarray  # int64, (terms + 1,)
    rows: np.ndarray  # int32, ascending within a column
    tf: np.ndarray  # float32
    doc_len: np.ndarray  # float32, (passages,): tokens per passage

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> Postings:
        vocabulary = sorted({t for tokens in token_lists for t in tokens})
        column = {t: n for n, t in enumerate(vocabulary)}
        cols: list[int] = []
        rows: list[int] = []
        tfs: list[int] = []
        for row, tokens in enumerate(token_lists):
            for term, count in Counter(tokens).items():
                cols.append(column[term])
                rows.append(row)
                tfs.append(count)
        col_array = np.asarray(cols, np.int64)
        order = np.argsort(col_array, kind="stable")  # rows stay ascending within a column
        counts = np.bincount(col_array, minlength=len(vocabulary))
        return cls(
            terms=column,
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            rows=np.asarray(rows, np.int32)[order],
            tf=np.asarray(tfs, np.float32)[order],
            doc_len=np.asarray([len(t) for t in token_lists], np.float32),
        )

    @classmethod
    def empty(cls) -> Postings:
        none = np.zeros(0, np.float32)
        return cls({}, np.zeros(1, np.int64), np.zeros(0, np.int32), none, none)

    def __len__(self) -> int:
        return len(self.doc_len)

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, term frequencies) of `term`, or None if no passage here has it."""
        col = self.terms.get(term)
        if col is None:
            return None
        start, end = self.indptr[col], self.indptr[col + 1]
        return self.rows[start:end], self.tf[start:end]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        vocabulary = sorted(self.terms, key=self.terms.__getitem__)
        (directory / TERMS).write_text(json.dumps(vocabulary, ensure_ascii=False), "utf-8")
        arrays = {INDPTR: self.indptr, ROWS: self.rows, TF: self.tf, DOC_LEN: self.doc_len}
        for name, array in arrays.items():
            np.save(directory / name, array, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, passages: int) -> Postings:
        try:
            vocabulary = json.loads((directory / TERMS).read_text("utf-8"))
            indptr = np.load(directory / INDPTR, allow_pickle=False)
            rows = np.load(directory / ROWS, allow_pickle=False)
            tf = np.load(directory / TF, allow_pickle=False)
            doc_len = np.load(directory / DOC_LEN, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read the BM25 postings in {directory.parent.name}") from exc
        if (
            not isinstance(vocabulary, list)
            or len(indptr) != len(vocabulary) + 1
            or len(rows) != len(tf)
            or int(indptr[-1]) != len(rows)
            or len(doc_len) != passages
        ):
            raise IndexCorrupt(f"the BM25 postings in {directory.parent.name} are inconsistent")
        return cls({t: n for n, t in enumerate(vocabulary)}, indptr, rows, tf, doc_len)

    def subset(self, keep: np.ndarray) -> Postings:
        """Only the rows where `keep` (bool, one per passage) is true, renumbered from 0."""
        if keep.all():
            return self
        new_row = np.cumsum(keep) - 1
        live = keep[self.rows]
        cols = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))[live]
        counts = np.bincount(cols, minlength=len(self.indptr) - 1)
        used = counts > 0  # a term only the dropped passages had leaves the vocabulary
        renumber = np.cumsum(used) - 1
        return Postings(
            terms={t: int(renumber[c]) for t, c in self.terms.items() if used[c]},
            indptr=np.concatenate([[0], np.cumsum(counts[used])]).astype(np.int64),
            rows=new_row[self.rows[live]].astype(np.int32),
            tf=self.tf[live],
            doc_len=self.doc_len[keep],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[Postings]) -> Postings:
        """One segment's postings from several, in order (rows of part i follow part i-1's)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        vocabulary = sorted(set().union(*(p.terms for p in parts)))
        column = {t: n for n, t in enumerate(vocabulary)}
        cols, rows, tfs = [], [], []
        offset = 0
        for part in parts:
            own = sorted(part.terms, key=part.terms.__getitem__)
            mapped = np.fromiter((column[t] for t in own), np.int64, len(own))
            cols.append(np.repeat(mapped, np.diff(part.indptr)))
            rows.append(part.rows.astype(np.int64) + offset)
            tfs.append(part.tf)
            offset += len(part)
        col_array = np.concatenate(cols)
        # Stable: parts are in row order, and rows ascend within a column in each part.
        order = np.argsort(col_array, kind="stable")
        counts = np.bincount(col_array, minlength=len(vocabulary))
        return cls(
            terms=column,
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            rows=np.concatenate(rows)[order].astype(np.int32),
            tf=np.concatenate(tfs)[order],
            doc_len=np.concatenate([p.doc_len for p in parts]),
        )


@dataclass(frozen=True)
class LexicalPart:
    """A segment's postings as the index serves them: where its rows start among the index's
    rows, and which of its rows are served (None: all of them)."""

    postings: Postings
    offset: int
    served: np.ndarray | None = None  # int64 index row of each segment row, -1 if removed


class LexicalIndex:
    """BM25 over every segment of one index build, with the statistics of the whole corpus."""

    def __init__(self, parts: Sequence[LexicalPart], count: int) -> None:
        self._parts = list(parts)
        self.count = count  # passages served
        total = 0.0
        for part in self._parts:
            lengths = part.postings.doc_len
            total += float(
                lengths.sum(dtype=np.float64)
                if part.served is None
                else lengths[part.served >= 0].sum(dtype=np.float64)
            )
        self._avg_len = total / count if count else 0.0
        self._df: dict[str, int] = {}

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        """One in-memory segment (for tests and the reference comparison)."""
        return cls([LexicalPart(Postings.build(token_lists), 0)], len(token_lists))

    def _columns(self, term: str) -> list[tuple[Postings, np.ndarray, np.ndarray, np.ndarray]]:
        """Each segment's served postings of `term`: (postings, rows as the index numbers
        them, term frequencies, the segment's own rows)."""
        found = []
        for part in self._parts:
            column = part.postings.column(term)
            if column is None:
                continue
            rows, tf = column
            if part.served is None:
                found.append((part.postings, rows + part.offset, tf, rows))
            else:
                index_rows = part.served[rows]
                live = index_rows >= 0
                if live.any():
                    found.append((part.postings, index_rows[live], tf[live], rows[live]))
        return found

    def document_frequency(self, term: str) -> int:
        df = self._df.get(term)
        if df is None:
            df = sum(len(rows) for _, rows, _, _ in self._columns(term))
            if len(self._df) < 100_000:  # a question's terms recur; an attacker's need not
                self._df[term] = df
        return df

    def _idf(self, df: int) -> float:
        n = max(self.count, 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage (zeros when no query token is in the corpus). A token
        given twice counts twice, as in bm25s."""
        out = np.zeros(self.count, dtype=np.float32)
        if not self.count:
            return out
        c0 = K1 * (1 - B)
        c1 = K1 * B / self._avg_len if self._avg_len else 0.0
        for term in query_tokens:
            columns = self._columns(term)
            df = sum(len(rows) for _, rows, _, _ in columns)
            if not df:
                continue
            idf = self._idf(df)
            for postings, rows, tf, local in columns:
                lengths = postings.doc_len[local]
                tf64 = tf.astype(np.float64)
                out[rows] += (idf * tf64 / (tf64 + c0 + c1 * lengths)).astype(np.float32)
        return out

    def knows(self, token: str) -> bool:
        return self.document_frequency(token) > 0

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token no passage has gets the rarest possible value."""
        return self._idf(self.document_frequency(token))
