"""BM25 over passage tokens (bm25s), saved with bm25s's own pickle-free format."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import bm25s
import numpy as np

from errors import IndexCorrupt

logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25 | None, count: int) -> None:
        self._bm25 = bm25
        self.count = count

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        if not token_lists:
            return cls(None, 0)
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(token_lists, show_progress=False)
        return cls(bm25, len(token_lists))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage (zeros when no query token is in the vocabulary)."""
        if self._bm25 is None:
            return np.zeros(self.count, dtype=np.float32)
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def knows(self, token: str) -> bool:
        return self._bm25 is not None and token in self._bm25.vocab_dict

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token no passage has gets the rarest possible value."""
        n = max(self.count, 1)
        df = 0
        if self._bm25 is not None and token in self._bm25.vocab_dict:
            column = self._bm25.vocab_dict[token]
            indptr = self._bm25.scores["indptr"]
            df = int(indptr[column + 1] - indptr[column])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(directory), allow_pickle=False, show_progress=False)

    @classmethod
    def load(cls, directory: Path, count: int) -> LexicalIndex:
        if count == 0:
            return cls(None, 0)
        try:
            bm25 = bm25s.BM25.load(
                str(directory), allow_pickle=False, mmap=False, show_progress=False
            )
        except Exception as exc:  # bm25s raises assorted errors on damaged files
            raise IndexCorrupt(f"cannot read the BM25 index in {directory.name}") from exc
        return cls(bm25, count)
