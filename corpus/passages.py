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

    @property
    def is_headline(self) -> bool:
        return self.paragraph == HEADLINE

    def sentence_texts(self, article_text: str | None = None) -> list[str]:
        """Its sentences' texts (from its own text: a headline is not in the article's)."""
        return [self.text[s - self.start : e - self.start] for s, e in self.sentences]


# The headline is a passage of its own, numbered 0 (paragraphs count from 1), so it can be
# searched, quoted and cited as the headline ("Prime minister to step down on 7 June" may be
# all an article says of that). Its offsets are within the title, not the article's text.
HEADLINE = 0


# List items are sentences of their own: a line break (lists keep one item per line, see
# `corpus.cleaning`) or a bullet inside a line ("• Dairy: … • Autos: …") ends one.
_ITEM_BREAK = re.compile(r"\n|[•●▪◦‣]")


# "WASHINGTON • The United States …": a dateline before a bullet is not a list item.
_DATELINE = re.compile(r"[A-Z][A-Z.,'/ -]{1,40}")


def _pieces(paragraph: str) -> list[tuple[int, int]]:
    """Spans of the paragraph between line breaks and bullets, marks and spaces left out."""
    spans, cursor = [], 0
    for match in [*_ITEM_BREAK.finditer(paragraph), None]:
        end = match.start() if match else len(paragraph)
        chunk = paragraph[cursor:end]
        if match and cursor == 0 and match.group() != "\n" and _DATELINE.fullmatch(chunk.strip()):
            continue  # keep the dateline with the sentence it opens
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((cursor + lead, cursor + len(chunk.rstrip())))
        cursor = match.end() if match else end
    return spans


def sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    """Sentence offsets within `paragraph`; knows "U.S.", "Mr." and quotes (sentencex), and
    takes each list item as a sentence."""
    spans: list[tuple[int, int]] = []
    for piece_start, piece_end in _pieces(paragraph):
        piece = paragraph[piece_start:piece_end]
        cursor = 0
        for sentence in segment("en", piece):
            text = sentence.strip()
            if not text:
                continue
            start = piece.find(text, cursor)
            if start < 0:  # the segmenter altered the text; fall back to the rest of the piece
                spans.append((piece_start + cursor, piece_end))
                break
            spans.append((piece_start + start, piece_start + start + len(text)))
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
    title = article.title.strip()
    if article.headline and title and len(title.split()) <= max_words:
        passages.append(Passage(article.id, HEADLINE, 0, 0, len(title), title, ((0, len(title)),)))
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
