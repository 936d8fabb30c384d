"""A briefing on any topic a member types, built on the spot from the sentences about it.

The topic is read with the parser (the only text parsed at request time: the library's
sentences were parsed at ingest): its noun phrases become the issue's terms ("prisoner
releases" also finds "the release of prisoners"), its words its description, which the
matcher embeds to recognise the sentences that use none of the terms. The result is an
`Issue` like a curated one, not stored: `IssueBriefings.keep` stores it when an admin asks.
"""

from __future__ import annotations

import re

from wordfreq import zipf_frequency

from briefings.catalogue import Issue
from briefings.discovery import PROCESS_WORDS, TITLE_WORDS, _core
from corpus.normalize import clean_unicode
from corpus.parsing import SentenceParse, parse_one
from errors import UnknownIssue
from retrieval.tokenize import tokenize

TOPIC_CHARS = 100  # a topic longer than this is cut (at a word) for its title and terms
ON_DEMAND_ID = "topic"  # the id prefix of an issue built on demand (never stored as such)
COMMON_ZIPF = 5.0  # a word this common in English ("role", "issue") is no term on its own
RARE_ZIPF = 4.0  # a word of a typed phrase this rare is a term of its own
_ENTITY_TERMS = frozenset(("ORG", "LAW", "EVENT", "PRODUCT", "FAC", "GPE", "LOC", "NORP"))


def clean_topic(topic: str) -> str:
    """The topic as a title: one line, no outer punctuation, at most `TOPIC_CHARS`."""
    text = " ".join(clean_unicode(topic).split()).strip(" \t\"'“”‘’.,;:!?")
    if len(text) > TOPIC_CHARS:
        text = text[:TOPIC_CHARS].rsplit(" ", 1)[0]
    return text


def topic_terms(parse: SentenceParse, names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The phrases of a typed topic that a sentence about it would name: each noun phrase's
    head with its modifiers ("troop withdrawal"), the same in the order "of" gives
    ("withdrawal of troops" stems alike without "of") and the names it holds ("Fordow").
    Words for the negotiation itself, the parties' and people's `names` (lower case) and a
    common word alone ("role") are no terms: they would find sentences about anything."""
    terms: list[str] = []

    def add(words: list[str]) -> None:
        low = [w.lower() for w in words if tokenize(w)]
        if not low or all(w in PROCESS_WORDS or w in names for w in low):
            return
        if len(low) == 1 and (low[0] in TITLE_WORDS or zipf_frequency(low[0], "en") >= COMMON_ZIPF):
            return
        terms.append(" ".join(words))

    for start, end in parse.chunks:
        head = next(
            (
                i
                for i in range(end - 1, start - 1, -1)
                if not start <= parse.heads[i] < end or parse.heads[i] == i
            ),
            end - 1,
        )
        if parse.pos[head] not in ("NOUN", "PROPN"):
            continue
        core = [t for t in _core(parse, head, set()) if parse.word(t) != "-"]
        words = [parse.word(t) for t in core]
        add(words)
        if len(words) == 2:
            add([words[1], words[0]])  # "prisoner releases" ~ "releases of prisoners"
        if len(words) > 1:
            # A word of the phrase rare enough to stand for it alone: "soybean" of "soybean
            # purchases", "prisoner" of "prisoner releases".
            for word in words:
                if zipf_frequency(word.lower(), "en") < RARE_ZIPF:
                    add([word])
    for start, end, label in parse.ents:
        if label in _ENTITY_TERMS:
            add([parse.word(i) for i in range(start, end) if parse.pos[i] != "DET"])
    if not terms:  # a verb or an adjective alone: "enrich", "nuclear"
        for i in range(len(parse)):
            if parse.pos[i] in ("NOUN", "PROPN", "VERB", "ADJ"):
                add([parse.word(i)])
    return tuple(dict.fromkeys(t for t in terms if tokenize(t)))


def topic_issue(topic: str, names: frozenset[str] = frozenset()) -> Issue:
    """The issue a typed topic describes (not stored). Raises `UnknownIssue` for a topic with
    nothing to look for."""
    title = clean_topic(topic)
    if not title or not tokenize(title):
        shown = " ".join(topic.split())[:60] or "(empty)"
        raise UnknownIssue(f"no topic to brief on in {shown!r}: name a subject of the talks")
    terms = topic_terms(parse_one(title), names)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[: 40 - len(ON_DEMAND_ID) - 1]
    return Issue(
        id=f"{ON_DEMAND_ID}-{slug.strip('-') or 'x'}",
        title=title[:1].upper() + title[1:],
        aliases=(title,),
        description=f"{title[:1].upper() + title[1:]}: what the articles say about {title}.",
        keywords=tuple(t for t in terms if t.lower() != title.lower()),
    )
