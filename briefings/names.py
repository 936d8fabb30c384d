"""What a name in a parsed sentence stands for: a country (or bloc) of the gazetteer, an
institution of one ("the European Commission", "the Afghan government"), another organisation
or movement ("the Taliban", "Mercosur"), or a person.

Read from the sentence's parse (made once at ingest, `corpus.parsing`): the entities the
tagger found (GPE, NORP, ORG, LOC, FAC, PERSON), their syntactic heads, and the general
knowledge of `retrieval.vocabulary.party_names` (each country's name, demonym, capital and
short forms). Used by `briefings.parties` to find a library's parties and officials and by
`briefings.positions` to read who holds a stance. No article's wording is written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from corpus.parsing import SentenceParse
from retrieval.vocabulary import party_names

# Entity labels that can name a party (a country, a bloc, a government, a movement).
PARTY_LABELS = frozenset(("GPE", "NORP", "ORG", "LOC", "FAC"))
# Heads that make a name an institution or a group of its country or bloc: "the Afghan
# government", "the European Commission", "Chinese negotiators", "the Mercosur bloc".
GENERIC = frozenset(
    """government governments administration parliament congress senate cabinet ministry
    ministries commission council presidency office department delegation delegations team
    negotiators negotiator officials official authorities leadership regime bloc group
    movement side camp coalition alliance states countries nations members economies
    lawmakers mps diplomats embassy military forces people leaders leader spokesman treasury
    spokeswoman spokesperson foreign trade affairs economic economy state""".split()
)
# Seats of government the gazetteer lacks (it has capitals): general knowledge.
SEATS = {
    "white house": "united states",
    "pentagon": "united states",
    "state department": "united states",
    "capitol hill": "united states",
    "downing street": "united kingdom",
    "whitehall": "united kingdom",
    "elysee": "france",
    "élysée": "france",
    "elysee palace": "france",
    "kremlin": "russia",
    "zhongnanhai": "china",
    "berlaymont": "european union",
}
# Words before a name that are titles or honorifics, not part of it ("Mullah Baradar").
TITLES = frozenset(
    """mr mrs ms dr sir president premier minister secretary representative ambassador
    adviser advisor negotiator envoy spokesman spokeswoman spokesperson chairman chairwoman
    chair chancellor governor senator sen rep commissioner counselor councillor vice deputy
    chief prime foreign trade economy finance defense defence state special acting former
    mullah sheikh ayatollah king queen prince general gen col lt taoiseach commerce
    agriculture top senior lead head director undersecretary under international national
    federal""".split()
)
# Entity labels that name people: a person, or a tag the small model gives some names
# ("Trump" as ORG) that the library also spells as a PERSON.
PERSON = "PERSON"
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")


def _norm(text: str) -> str:
    """A name's key: lower case, no dots, no possessive, no leading "the", single spaces."""
    text = _POSSESSIVE.sub("", text.strip())
    text = text.replace(".", "").replace("’", "'").lower()
    words = text.split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[tuple[tuple[str, ...], ...], dict[str, int]]:
    entries = party_names()
    of: dict[str, int] = {}
    for number, entry in enumerate(entries):
        for name in entry:
            of.setdefault(_norm(name), number)
    for seat, country in SEATS.items():
        number = of.get(country)
        if number is not None:
            of.setdefault(seat, number)
    return entries, of


def country_of(text: str) -> int | None:
    """The gazetteer entry a name is one of ("U.S.", "Beijing", "Chinese", "the White House"),
    or None."""
    return _vocabulary()[1].get(_norm(text))


def country_names(number: int) -> tuple[str, ...]:
    """A gazetteer entry's names, lower case, the country's own name first."""
    return _vocabulary()[0][number]


def country_id(number: int) -> str:
    return slug(country_names(number)[0])


def country_display(number: int) -> str:
    name = country_names(number)[0]
    if len(name.replace(".", "")) <= 3:
        return name.upper()
    return " ".join(w.capitalize() for w in name.split())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


@dataclass(frozen=True)
class NameSpan:
    """A name in a sentence, as tokens ``[start, end)`` of its parse, and what it stands for.

    ``kind``: "country" (``key`` is the gazetteer entry's number, as text), "institution" (a
    bare institution, ``key`` its words: "commission", "congress"; the library decides whose),
    "group" (another organisation or movement, ``key`` its name: "taliban"), or "person"
    (``key`` the name without titles)."""

    start: int
    end: int
    head: int  # the token that heads the name in the parse
    kind: str
    key: str
    surface: str  # as written, without "the" and a possessive
    label: str  # the tagger's entity label


def head_of(parse: SentenceParse, start: int, end: int) -> int:
    """The token of ``[start, end)`` whose head lies outside it (the last such)."""
    heads = [
        i for i in range(start, end) if not start <= parse.heads[i] < end or parse.heads[i] == i
    ]
    return heads[-1] if heads else end - 1


def _words(parse: SentenceParse, start: int, end: int) -> list[int]:
    """The tokens of a name without determiners, possessive markers and punctuation."""
    return [
        i
        for i in range(start, end)
        if parse.pos[i] not in ("DET", "PUNCT", "PART") and parse.deps[i] != "case"
    ]


def read_name(parse: SentenceParse, start: int, end: int, label: str) -> list[NameSpan]:
    """What the entity ``[start, end)`` of `parse` names: one span, or one per part of a
    hyphenated pair ("EU-Mercosur", "U.S.-Taliban"); empty when it names nothing a party
    could be (a date, a law, an outlet is checked by the caller)."""
    tokens = _words(parse, start, end)
    if not tokens:
        return []
    text = parse.span_text(tokens[0], tokens[-1] + 1)
    head = head_of(parse, start, end)
    if label == PERSON:
        words = [w for w in text.split() if _norm(w) not in TITLES]
        name = _POSSESSIVE.sub("", " ".join(words))
        number = country_of(name)
        if number is not None:  # "Top White House" is no person
            return [NameSpan(start, end, head, "country", str(number), _surface(name), label)]
        return [NameSpan(start, end, head, "person", name, name, label)] if name else []
    if label not in PARTY_LABELS:
        return []
    if _titled_person(parse, tokens, head):
        name = _POSSESSIVE.sub("", text)
        return [NameSpan(start, end, head, "person", name, name, PERSON)]
    # "EU-Mercosur", "U.S.-Taliban": two sides named in one word.
    parts = re.split(r"\s*[-–—/]\s*", text)
    if (
        len(parts) > 1
        and all(p[:1].isupper() and (country_of(p) is not None or " " not in p) for p in parts)
        and any(country_of(p) is not None for p in parts)
    ):
        found = []
        for part in parts:
            number = country_of(part)
            if number is not None:
                found.append(NameSpan(start, end, head, "country", str(number), part, label))
            elif len(part) > 1 and part.lower() not in GENERIC:
                found.append(NameSpan(start, end, head, "group", _norm(part), part, label))
        return found
    number = country_of(text)
    if number is not None:
        return [NameSpan(start, end, head, "country", str(number), _surface(text), label)]
    words = [parse.word(i) for i in tokens]
    # A country's name before the rest: "European Commission", "Afghan Taliban", "U.S. Trade
    # Representative". The longest such opening wins ("South Korean" before "South").
    for cut in range(len(words) - 1, 0, -1):
        number = country_of(" ".join(words[:cut]))
        if number is None:
            continue
        rest = [w.lower() for w in words[cut:]]
        core = rest[: rest.index("of")] if "of" in rest else rest
        # "Afghanistan's High Council": the rest is the country's own.
        after = tokens[cut - 1] + 1
        owned = after < end and parse.deps[after] == "case"
        if owned or all(w in GENERIC or w in TITLES for w in core):
            return [NameSpan(start, end, head, "country", str(number), _surface(text), label)]
        name = " ".join(words[cut:])
        return [NameSpan(start, end, head, "group", _norm(name), _surface(name), label)]
    key = _norm(text)
    if not key or not any(ch.isalpha() for ch in key) or not text[:1].isupper():
        return []  # a proper name starts with a capital: "intra-Afghan" names no one
    core = key.split(" of ")[0].split()
    if all(w in GENERIC or w in TITLES for w in core):
        return [NameSpan(start, end, head, "institution", key, _surface(text), label)]
    return [NameSpan(start, end, head, "group", key, _surface(text), label)]


def _titled_person(parse: SentenceParse, tokens: list[int], head: int) -> bool:
    """A name the tagger took for an organisation that a title says is a person: "spokesman
    Sediq Sediqqi" (two or three capitalised words, none a country's name)."""
    if not 2 <= len(tokens) <= 3 or not all(parse.word(i)[:1].isupper() for i in tokens):
        return False
    if any(country_of(parse.word(i)) is not None for i in tokens):
        return False
    return any(
        parse.deps[k] in ("compound", "amod") and k not in tokens and _norm(parse.word(k)) in TITLES
        for k in parse.children[head]
    )


def _surface(text: str) -> str:
    text = _POSSESSIVE.sub("", text.strip())
    return text[4:] if text.lower().startswith("the ") else text


def names_in(parse: SentenceParse) -> list[NameSpan]:
    """Every name `parse`'s entities hold, in order, plus country names the tagger left out
    of its entities ("Paraguay" read as a common noun is still Paraguay)."""
    found: list[NameSpan] = []
    inside = set()
    for start, end, label in parse.ents:
        found.extend(read_name(parse, start, end, label))
        inside.update(range(start, end))
    for i in range(len(parse)):
        if i in inside or parse.pos[i] not in ("PROPN", "ADJ", "NOUN"):
            continue
        word = parse.word(i)
        if word[:1].isupper() and (number := country_of(word)) is not None:
            found.append(NameSpan(i, i + 1, i, "country", str(number), _surface(word), "GPE"))
    found.sort(key=lambda n: n.start)
    return found
