"""Embedding articles into an index: whole rebuilds and incremental additions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from corpus.articles import Article
from corpus.parsing import encode_parses, parse_sentences
from corpus.passages import Passage, split_passages
from retrieval.dedupe import link_against, link_duplicates
from retrieval.encoder import Encoder
from retrieval.index import IndexData, PassageIndex
from retrieval.records import ArticleInfo, PassageRecord
from retrieval.text import search_text

Progress = Callable[[int, int], None]  # (passages embedded so far, passages to embed)
ENCODE_CHUNK = 256


@dataclass(frozen=True)
class SourcedArticle:
    """An article and the file it came from (so the index knows what is stale)."""

    key: str
    sha256: str
    article: Article


def _encode(encoder: Encoder, texts: list[str], progress: Callable[[int], None]) -> np.ndarray:
    """Vectors for `texts`, in chunks (for the progress bar). The chunks are cut from the texts
    sorted by length, as the encoder itself does within a call: a chunk of mixed lengths is
    mostly padding, which made a rebuild 27% slower than one `encode` call on the same texts."""
    out = np.zeros((len(texts), encoder.dimension), np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), ENCODE_CHUNK):
        rows = order[start : start + ENCODE_CHUNK]
        out[rows] = encoder.encode([texts[i] for i in rows])
        progress(len(rows))
    return out


def article_info(article: Article, passage_count: int) -> ArticleInfo:
    return ArticleInfo(
        id=article.id,
        title=article.title,
        source=article.source_label,  # what citations show: a page's claim marked as one
        date=article.date.isoformat() if article.date else None,
        url=article.url,
        content_hash=article.content_hash,
        bundled=article.bundled,
        passage_count=passage_count,
        duplicate_of=None,
        fetched_from=article.fetched_from,
        claimed_source=article.claimed_source,
        claimed_url=article.claimed_url,
    )


def _chronological(item: SourcedArticle) -> tuple:
    # Older articles first, so the earliest copy of a wire story is the one others point at.
    return (item.article.date or dt.date.max, item.article.id)


@dataclass(frozen=True)
class _Embedded:
    split: list[tuple[SourcedArticle, list[Passage]]]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_counts: list[int]
    parses: list[bytes]  # per passage, its sentences' parses (corpus.parsing.encode_parses)


def _embed(items: Sequence[SourcedArticle], encoder: Encoder, progress: Progress | None):
    split: list[tuple[SourcedArticle, list[Passage]]] = [
        (item, split_passages(item.article)) for item in items
    ]
    passage_texts, sentence_texts, sentence_counts, raw_sentences = [], [], [], []
    for item, passages in split:
        for passage in passages:
            passage_texts.append(search_text(passage.text, item.article.date))
            sentences = passage.sentence_texts(item.article.text)
            raw_sentences.extend(sentences)
            sentence_texts.extend(search_text(s, item.article.date) for s in sentences)
            sentence_counts.append(len(sentences))
    # A one-sentence paragraph is its own sentence, and wire copies repeat whole paragraphs:
    # each distinct text is embedded once (13% of the texts of the test articles).
    unique = list(dict.fromkeys(passage_texts + sentence_texts))
    total = len(unique)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, total)

    if progress:
        progress(0, total)
    vectors = _encode(encoder, unique, advance)
    row = {text: n for n, text in enumerate(unique)}
    passage_vectors = vectors[[row[t] for t in passage_texts]].reshape(-1, encoder.dimension)
    sentence_vectors = vectors[[row[t] for t in sentence_texts]].reshape(-1, encoder.dimension)
    # Every sentence is parsed once, here, and its parse kept with its passage: answering and
    # briefings read it instead of parsing again. Repeated sentences (wire copies) once.
    distinct = list(dict.fromkeys(raw_sentences))
    parsed = dict(zip(distinct, parse_sentences(distinct), strict=True))
    parses, cursor = [], 0
    for count in sentence_counts:
        parses.append(encode_parses(parsed[s] for s in raw_sentences[cursor : cursor + count]))
        cursor += count
    return _Embedded(split, passage_vectors, sentence_vectors, sentence_counts, parses)


def _records(embedded: _Embedded, first_row: int):
    passages: list[PassageRecord] = []
    articles: dict[str, ArticleInfo] = {}
    sources: dict[str, list[str]] = {}
    for item, article_passages in embedded.split:
        for passage in article_passages:
            parse = embedded.parses[len(passages)]
            passages.append(
                PassageRecord(
                    row=first_row + len(passages),
                    article_id=passage.article_id,
                    paragraph=passage.paragraph,
                    part=passage.part,
                    start=passage.start,
                    end=passage.end,
                    text=passage.text,
                    sentences=passage.sentences,
                    dup_of=-1,
                    parse=parse,
                )
            )
        articles[item.article.id] = article_info(item.article, len(article_passages))
        sources[item.key] = [item.sha256, item.article.id]
    return passages, articles, sources


def add_articles(
    data: IndexData,
    items: Sequence[SourcedArticle],
    encoder: Encoder,
    progress: Progress | None = None,
) -> IndexData:
    """`data` plus `items`, embedding only the new passages. Articles already in `data` with the
    same id are replaced. (A whole index in memory: what a rebuild writes.)"""
    items = sorted(items, key=_chronological)
    replaced = {item.article.id for item in items} & set(data.articles)
    data = data.without_articles(replaced)
    embedded = _embed(items, encoder, progress)
    first_new = len(data.passages)
    passages, articles, sources = _records(embedded, first_new)
    ptr_tail = data.sentence_ptr[-1] + np.cumsum(embedded.sentence_counts, dtype=np.int64)
    updated = replace(
        data,
        articles={**data.articles, **articles},
        passages=[*data.passages, *passages],
        passage_vectors=np.concatenate([data.passage_vectors, embedded.passage_vectors]),
        sentence_vectors=np.concatenate([data.sentence_vectors, embedded.sentence_vectors]),
        sentence_ptr=np.concatenate([data.sentence_ptr, ptr_tail]).astype(np.int64),
        sources={**data.sources, **sources},
    )
    return link_duplicates(updated, first_new)


def new_passages(
    index: PassageIndex,
    items: Sequence[SourcedArticle],
    encoder: Encoder,
    progress: Progress | None = None,
    *,
    leaving: set[str] = frozenset(),
) -> IndexData:
    """The passages of `items`, embedded, numbered after `index`'s, with copies of passages in
    `index` found (except in the `leaving` articles: removed, or replaced by one of `items`):
    what an ingest adds as a new segment. Reads nothing of `index` but the neighbours of the
    new passages, so it costs the same in a small library and a large one."""
    items = sorted(items, key=_chronological)
    embedded = _embed(items, encoder, progress)
    passages, articles, sources = _records(embedded, len(index))
    data = IndexData(
        model_id=index.manifest.model_id,
        dimension=index.manifest.dimension,
        backend=index.manifest.backend,
        articles=articles,
        passages=passages,
        passage_vectors=embedded.passage_vectors,
        sentence_vectors=embedded.sentence_vectors,
        sentence_ptr=np.concatenate([[0], np.cumsum(embedded.sentence_counts)]).astype(np.int64),
        sources=sources,
        encoder=dict(index.manifest.encoder),
        first_row=len(index),
    )
    leaving = set(leaving) | ({i.article.id for i in items} & set(index.articles))
    return link_against(index, data, leaving)
