"""Synthetic corpora for the scale benchmarks: clustered unit vectors and generated text.

Embedding a million passages on two cores would take hours, so the scale runs use vectors
drawn around 1,000 random cluster centres (``noise`` sets how far from its centre a vector
lies: at 1.5 the nearest neighbours of a query have cosines of about 0.4, as MiniLM's do for
questions against news passages) and passages generated from a trade-talk vocabulary, so that
BM25 has realistic postings for the benchmark questions' words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.index import IndexData
from retrieval.records import ArticleInfo, PassageRecord

DIMENSION = 384
CENTRES = 1000
NOISE = 1.5
PASSAGES_PER_ARTICLE = 10

# Words the benchmark questions use, so BM25 finds postings for them (with realistic skew).
DOMAIN = (
    "deal talks trade nafta canada canadian mexico tariffs tariff dairy milk quota steel "
    "aluminum autos cars lumber freeland lighthizer trudeau trump kudlow negotiators negotiation "
    "agreement chapter panels dispute culture pharma patents drug deadline congress washington "
    "ottawa friday sunday september october usmca sticking points impasse rules origin"
).split()


def unit_vectors(
    count: int, *, seed: int, noise: float = NOISE, dimension: int = DIMENSION
) -> np.ndarray:
    """`count` float32 unit vectors scattered around `CENTRES` fixed cluster centres."""
    centres = np.random.default_rng(12345).standard_normal((CENTRES, dimension), np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((count, dimension), np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        block = centres[rng.integers(0, CENTRES, n)]
        block += rng.standard_normal((n, dimension), np.float32) * np.float32(
            noise / np.sqrt(dimension)
        )
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + n] = block
    return out


class TextGenerator:
    """Sentences of 8-28 words: Zipf-distributed filler with trade-talk words mixed in."""

    def __init__(self, seed: int, vocabulary: int = 20_000) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = "ka lo mer tin sa ve ro du pa nel ar ost bi fen gu ith".split()
        words = set()
        while len(words) < vocabulary:
            parts = self.rng.integers(0, len(syllables), self.rng.integers(2, 5))
            words.add("".join(syllables[i] for i in parts))
        self.filler = np.array(sorted(words))
        ranks = np.arange(1, vocabulary + 1)
        self.weights = (1 / ranks) / (1 / ranks).sum()
        self.domain = np.array(DOMAIN)

    def sentences(self, count: int) -> list[str]:
        lengths = self.rng.integers(8, 29, count)
        words = self.filler[self.rng.choice(len(self.filler), int(lengths.sum()), p=self.weights)]
        domain = self.rng.random(len(words)) < 0.15
        words[domain] = self.domain[self.rng.integers(0, len(self.domain), int(domain.sum()))]
        out = []
        start = 0
        for n in lengths:
            text = " ".join(words[start : start + n])
            out.append(text[0].upper() + text[1:] + ".")
            start += n
        return out


@dataclass(frozen=True)
class SyntheticCorpus:
    passages: int
    sentences_per_passage: float
    seed: int = 7


def _articles(
    corpus: SyntheticCorpus, gen: TextGenerator | None = None
) -> Iterator[tuple[ArticleInfo, list[PassageRecord]]]:
    gen = gen or TextGenerator(corpus.seed)
    rng = np.random.default_rng(corpus.seed)
    row = 0
    number = 0
    start_date = dt.date(2017, 8, 16)
    while row < corpus.passages:
        count = min(PASSAGES_PER_ARTICLE, corpus.passages - row)
        article_id = f"synthetic-{number:07d}"
        date = start_date + dt.timedelta(days=int(number % 900))
        records: list[PassageRecord] = []
        offset = 0
        counts = np.minimum(rng.poisson(corpus.sentences_per_passage - 1, count) + 1, 4)
        pool = gen.sentences(int(counts.sum()) + 1)
        title = pool.pop()
        for paragraph, n_sentences in enumerate(counts, start=1):
            sentences = [pool.pop() for _ in range(int(n_sentences))]
            spans = []
            cursor = offset
            for s in sentences:
                spans.append((cursor, cursor + len(s)))
                cursor += len(s) + 1
            text = " ".join(sentences)
            records.append(
                PassageRecord(
                    row=row,
                    article_id=article_id,
                    paragraph=paragraph,
                    part=0,
                    start=offset,
                    end=offset + len(text),
                    text=text,
                    sentences=tuple(spans),
                    dup_of=-1,
                )
            )
            row += 1
            offset += len(text) + 2
        info = ArticleInfo(
            id=article_id,
            title=f"Trade talks update {number}: " + title[:60].rstrip("."),
            source=f"Synthetic Wire {number % 17}",
            date=date.isoformat(),
            url=f"https://example.com/{article_id}",
            content_hash=hashlib.sha256(article_id.encode()).hexdigest(),
            bundled=False,
            passage_count=count,
            duplicate_of=None,
        )
        number += 1
        yield info, records


def synthetic_data(
    corpus: SyntheticCorpus,
    *,
    model_id: str,
    backend: str,
    base: IndexData | None = None,
    generator: TextGenerator | None = None,
) -> IndexData:
    """An `IndexData` of `corpus.passages` generated passages (plus `base`'s, e.g. the bundled
    article, first), with clustered vectors for passages and sentences. A `generator` shared by
    many small corpora saves building its vocabulary each time (the servers benchmark)."""
    articles: dict[str, ArticleInfo] = dict(base.articles) if base else {}
    passages: list[PassageRecord] = list(base.passages) if base else []
    first = len(passages)
    lengths: list[int] = []
    for info, records in _articles(corpus, generator):
        articles[info.id] = info
        for record in records:
            passages.append(
                PassageRecord(**{**record.__dict__, "row": record.row + first})  # renumber
            )
            lengths.append(len(record.sentences))
    n_sentences = int(sum(lengths))
    passage_vectors = unit_vectors(corpus.passages, seed=corpus.seed)
    sentence_vectors = unit_vectors(n_sentences, seed=corpus.seed + 1)
    ptr_tail = np.cumsum(lengths, dtype=np.int64)
    if base is not None:
        passage_vectors = np.concatenate([base.passage_vectors, passage_vectors])
        sentence_vectors = np.concatenate([base.sentence_vectors, sentence_vectors])
        ptr = np.concatenate([base.sentence_ptr, base.sentence_ptr[-1] + ptr_tail])
        dimension, encoder = base.dimension, base.encoder
    else:
        ptr = np.concatenate([[0], ptr_tail])
        dimension, encoder = DIMENSION, {}
    return IndexData(
        model_id=model_id,
        dimension=dimension,
        backend=backend,
        articles=articles,
        passages=passages,
        passage_vectors=passage_vectors,
        sentence_vectors=sentence_vectors,
        sentence_ptr=ptr.astype(np.int64),
        sources=dict(base.sources) if base else {},
        encoder=encoder,
    )


def news_sentences() -> list[str]:
    """Every sentence of the fixture articles and the bundled article."""
    from corpus.articles import read_article
    from corpus.library import BUNDLED_DIR
    from corpus.passages import split_passages

    root = Path(__file__).resolve().parents[1]
    paths = sorted((root / "tests" / "fixtures" / "articles").glob("*.md"))
    sentences = []
    for path in [*paths, *sorted(BUNDLED_DIR.glob("*.md"))]:
        article = read_article(path, max_bytes=10_000_000)
        for passage in split_passages(article):
            sentences.extend(s.strip() for s in passage.sentence_texts(article.text))
    return [s for s in sentences if len(s.split()) >= 4]


def write_news_articles(directory: Path, count: int, *, seed: int) -> int:
    """`count` Markdown articles of 10 paragraphs of 1-3 real news sentences each (so passage
    and sentence lengths are those of real articles); returns the number of paragraphs."""
    rng = random.Random(seed)
    pool = news_sentences()
    directory.mkdir(parents=True, exist_ok=True)
    paragraphs = 0
    for number in range(count):
        date = dt.date(2018, 8, 1) + dt.timedelta(days=rng.randrange(90))
        body = []
        for _ in range(PASSAGES_PER_ARTICLE):
            body.append(" ".join(rng.sample(pool, rng.choice((1, 1, 2, 2, 3)))))
        title = " ".join(rng.choice(pool).split()[:9]).rstrip(".,;:")
        text = (
            f"---\ntitle: {json_string(f'Roundup {number}: {title}')}\n"
            f"source: Bench Wire {number % 11}\ndate: {date.isoformat()}\n"
            f"url: https://example.com/bench/{number}\n---\n\n" + "\n\n".join(body) + "\n"
        )
        (directory / f"bench-{number:05d}.md").write_text(text, encoding="utf-8")
        paragraphs += len(body)
    return paragraphs


def json_string(text: str) -> str:
    """A YAML-safe double-quoted scalar (JSON strings are valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)
