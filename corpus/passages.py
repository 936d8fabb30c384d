"""Splitting articles into passages (paragraphs, long ones cut at sentence boundaries)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sentencex import segment

from corpus.articles import Article

MAX_PASSAGE_WORDS = 120


@dataclass(frozen=True)
class Passage:
    """A searchable unit: a paragraph or part of one, with exact offsets into ``article.text``."""

    article_id: str
    paragraph: int  # 1-based paragraph number in the article
    part: int  # 0 unless a long paragraph was split
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # offsets into ``article.text``

    @property
    def id(self) -> str:
        suffix = f".{self.part + 1}" if self.part else ""
        return f"{self.article_id}#p{self.paragraph}{suffix}"

    def sentence_texts(self, article_text: str) -> list[str]:
        return [article_text[s:e] for s, e in self.sentences]


def sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    """Sentence offsets within `paragraph`; knows "U.S.", "Mr." and quotes (sentencex)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in segment("en", paragraph):
        text = sentence.strip()
        if not text:
            continue
        start = paragraph.find(text, cursor)
        if start < 0:  # the segmenter altered the text; fall back to the rest of the paragraph
            spans.append((cursor, len(paragraph)))
            break
        spans.append((start, start + len(text)))
        cursor = start + len(text)
    return spans or [(0, len(paragraph))]


def _split_long_sentences(
    spans: list[tuple[int, int]], paragraph: str, max_words: int
) -> list[tuple[int, int]]:
    """A "sentence" longer than a passage (a list, a run-on, a missing full stop) is cut at
    word boundaries, so no passage is ever longer than `max_words`."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        words = list(re.finditer(r"\S+", paragraph[start:end]))
        if len(words) <= max_words:
            out.append((start, end))
            continue
        for first in range(0, len(words), max_words):
            chunk = words[first : first + max_words]
            out.append((start + chunk[0].start(), start + chunk[-1].end()))
    return out


def _group_sentences(
    spans: list[tuple[int, int]], paragraph: str, max_words: int
) -> list[list[tuple[int, int]]]:
    """Consecutive sentences into balanced groups of at most `max_words` (a lone longer sentence
    stays whole: cutting mid-sentence would break quoting)."""
    words = [len(paragraph[s:e].split()) for s, e in spans]
    total = sum(words)
    if total <= max_words:
        return [spans]
    parts = -(-total // max_words)
    target = total / parts
    groups: list[list[tuple[int, int]]] = [[]]
    count = 0
    for span, n in zip(spans, words, strict=True):
        if groups[-1] and (count + n > max_words or count >= target):
            groups.append([])
            count = 0
        groups[-1].append(span)
        count += n
    return groups


def split_passages(article: Article, max_words: int = MAX_PASSAGE_WORDS) -> list[Passage]:
    passages: list[Passage] = []
    offset = 0
    for number, paragraph in enumerate(article.paragraphs, start=1):
        spans = _split_long_sentences(sentence_spans(paragraph), paragraph, max_words)
        for part, group in enumerate(_group_sentences(spans, paragraph, max_words)):
            start, end = group[0][0], group[-1][1]
            passages.append(
                Passage(
                    article_id=article.id,
                    paragraph=number,
                    part=part,
                    start=offset + start,
                    end=offset + end,
                    text=paragraph[start:end],
                    sentences=tuple((offset + s, offset + e) for s, e in group),
                )
            )
        offset += len(paragraph) + 2  # the "\n\n" joining paragraphs in Article.text
    return passages
