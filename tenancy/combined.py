"""A server's library and the global one read as one index, for briefings.

Briefings (`briefings.issue_briefings`) scan every sentence of an index: its records, sentence
vectors and articles. `CombinedIndex` shows the global build followed by the server's build
through those same attributes, without copying the vectors; questions do not use it (they
search each library on its own and merge the results, `retrieval.multi_search`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property

import numpy as np

from retrieval.index import PassageIndex
from retrieval.manifest import Manifest
from retrieval.records import ArticleInfo, PassageRecord


class StackedRows:
    """Rows of several 2-D arrays read as one array, by slice or by row numbers, without
    concatenating them (the global build's vectors stay memory-mapped and shared)."""

    def __init__(self, parts: list[np.ndarray]) -> None:
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])
        self.shape = (int(self.starts[-1]), parts[0].shape[1])
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise ValueError("StackedRows slices must be contiguous")
            key = np.arange(start, stop)
        rows = np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        part_of = np.searchsorted(self.starts, rows, side="right") - 1
        for n, part in enumerate(self.parts):
            mine = part_of == n
            if mine.any():
                out[mine] = part[rows[mine] - self.starts[n]]
        return out


class CombinedRecords:
    """The passages of both builds, the second's rows following the first's."""

    def __init__(self, first: PassageIndex, second: PassageIndex) -> None:
        self.first, self.second = first, second

    def iter_passages(self) -> Iterator[PassageRecord]:
        yield from self.first.records.iter_passages()
        offset = len(self.first)
        for record in self.second.records.iter_passages():
            dup = record.dup_of + offset if record.dup_of >= 0 else -1
            yield replace(record, row=record.row + offset, dup_of=dup)


class CombinedIndex:
    """The global build (`first`) and a server's build (`second`) as one read-only index."""

    def __init__(self, first: PassageIndex, second: PassageIndex) -> None:
        self.first, self.second = first, second
        self.records = CombinedRecords(first, second)
        self.sentence_vectors = StackedRows([first.sentence_vectors, second.sentence_vectors])
        shift = int(first.sentence_ptr[-1])
        self.sentence_ptr = np.concatenate([first.sentence_ptr[:-1], second.sentence_ptr + shift])

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def document_frequency(self, term: str) -> int:
        """How many passages of either library use `term` (a `tokenize` stem)."""
        return self.first.document_frequency(term) + self.second.document_frequency(term)

    @property
    def manifest(self) -> Manifest:
        return self.first.manifest  # the model and dimension are the same in both

    @property
    def version(self) -> str:
        """Changes when either build does (briefings cache per version)."""
        return f"{self.first.version}+{self.second.version}"

    @cached_property
    def articles(self) -> dict[str, ArticleInfo]:
        labelled = {k: replace(a, library="global") for k, a in self.first.articles.items()}
        labelled.update({k: replace(a, library="server") for k, a in self.second.articles.items()})
        return labelled
