"""The sentences of an index, one copy each, with their vectors: what issue discovery and party
finding read. A wire story republished by several outlets counts once (its copies' passages
point at the original with ``dup_of``), so a story's words don't look like a recurring subject
just because three sites carried it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from corpus.parsing import SentenceParse
from corpus.passages import HEADLINE
from retrieval.index import PassageIndex


@dataclass(frozen=True)
class LibrarySentence:
    text: str
    article_id: str
    article_date: str | None
    row: int  # row in ``index.sentence_vectors``
    passage_id: str
    # Its parse, made at ingest (None for a passage stored without parses).
    parse: SentenceParse | None = field(default=None, compare=False, repr=False)
    # The parses of the sentences before it in its passage (whom "she said" means).
    before: tuple[SentenceParse, ...] = field(default=(), compare=False, repr=False)


def library_sentences(index: PassageIndex) -> list[LibrarySentence]:
    """Every sentence of every original passage, in index order."""
    out: list[LibrarySentence] = []
    ptr = index.sentence_ptr
    for record in index.records.iter_passages():
        if record.dup_of >= 0 or record.paragraph == HEADLINE:
            continue  # a copy, or a headline (it announces the story its paragraphs tell)
        article = index.articles[record.article_id]
        if article.duplicate_of is not None:
            continue
        texts = record.sentence_texts()
        parses = record.sentence_parses or (None,) * len(texts)
        for number, text in enumerate(texts):
            out.append(
                LibrarySentence(
                    text=text,
                    article_id=record.article_id,
                    article_date=article.date,
                    row=int(ptr[record.row]) + number,
                    passage_id=record.id,
                    parse=parses[number],
                    before=tuple(p for p in parses[:number] if p is not None),
                )
            )
    return out


def sentence_matrix(index: PassageIndex, sentences: list[LibrarySentence]) -> np.ndarray:
    """The unit vectors of `sentences`, one row each."""
    rows = np.fromiter((s.row for s in sentences), dtype=np.int64, count=len(sentences))
    return np.asarray(index.sentence_vectors[rows], np.float32)
