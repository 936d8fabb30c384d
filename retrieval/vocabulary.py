"""Words that mean the same party or title in news about negotiations: a country, its people,
its capital ("Canadian", "Ottawa" for Canada), and the short forms people type ("rep", "PM").

Used three ways: a question word the articles don't contain is not "unknown" when an
equivalent is there; the equivalents join the BM25 query; and a sentence covers a question
term when it holds an equivalent. General knowledge, not any article's wording.
"""

from __future__ import annotations

import re
from functools import lru_cache

from retrieval.tokenize import tokenize

# One line a party: the names a reader uses for it (country, demonym, capital, short forms).
# Every other country comes from `countryinfo`'s gazetteer (`_gazetteer_lines`); these lines
# come first and hold what it lacks (blocs, short forms, seats of government).
_PARTIES = """
united states|us|usa|america|american|americans|washington|u.s.|ustr|dc|d.c.
china|chinese|beijing|prc|sino
canada|canadian|canadians|ottawa
mexico|mexican|mexicans
japan|japanese|tokyo
european union|eu|europe|european|europeans|brussels
united kingdom|uk|britain|british|london|brits
germany|german|germans|berlin
france|french|paris
italy|italian|rome
spain|spanish|madrid
india|indian|indians|delhi
australia|australian|australians|canberra
new zealand|nz|wellington|kiwi
south korea|korea|korean|koreans|seoul
north korea|pyongyang
vietnam|vietnamese|hanoi
singapore|singaporean
malaysia|malaysian|kuala lumpur
brunei|bruneian
chile|chilean|santiago
peru|peruvian|lima
taiwan|taiwanese|taipei
russia|russian|moscow|kremlin
brazil|brazilian|brasilia
argentina|argentine|argentinian|buenos aires
switzerland|swiss|bern
norway|norwegian|oslo
turkey|turkish|ankara
indonesia|indonesian|jakarta
thailand|thai|bangkok
philippines|filipino|manila
south africa|south african|pretoria
ireland|irish|dublin
netherlands|dutch|hague|amsterdam
saudi arabia|saudi|riyadh
israel|israeli|jerusalem
ukraine|ukrainian|kyiv|kiev
"""

# Short forms and titles: each maps to what the articles would spell out.
_SHORT_FORMS = """
rep|representative
reps|representatives
pm|prime minister
fm|foreign minister
sec|secretary
secy|secretary
prez|president
potus|president
govt|government
gov|government
admin|administration
wh|white house
dept|department
ag|agriculture
agri|agricultural
ip|intellectual property
ev|electric vehicle
evs|electric vehicles
econ|economy
intl|international
natl|national
mfg|manufacturing
auto|automobile
autos|automobiles
car|auto
cars|autos
"""


Phrase = tuple[str, ...]  # stems, all of which must be present


def _phrase(text: str) -> Phrase:
    return tuple(tokenize(text.replace(".", "")))


@lru_cache(maxsize=1)
def _party_lines() -> tuple[tuple[str, ...], ...]:
    """Each party's names, the hand-written lines first, then the gazetteer's countries (most
    populous first); a name already given to a party is not given to another ("Chinese" is
    China's, not Hong Kong's)."""
    lines = [tuple(line.split("|")) for line in _PARTIES.strip().splitlines()]
    taken = {name for line in lines for name in line}
    by_first = {line[0]: n for n, line in enumerate(lines)}
    for names in _gazetteer_lines():
        fresh = tuple(n for n in names if n not in taken)
        if names[0] in by_first:  # a hand-written party: the gazetteer adds its other names
            n = by_first[names[0]]
            lines[n] = lines[n] + fresh
        elif fresh and fresh[0] == names[0]:
            lines.append(fresh)
        taken.update(fresh)
    return tuple(lines)


# A name as text spells it: letters, spaces, dots, hyphens, apostrophes (no brackets or
# commas: "Korea (Republic of)" is a catalogue's, not a writer's).
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z .'-]*")


def _gazetteer_lines() -> list[tuple[str, ...]]:
    """Country, demonym (and its plural), capital and long forms, lower case, from
    `countryinfo`'s data (ISO codes and names in other scripts left out)."""
    from countryinfo.countryinfo import load_countries

    countries = load_countries()["countries"].values()
    out = []
    for c in sorted(countries, key=lambda c: -(c.get("population") or 0)):
        names = [c.get("name") or ""]
        demonym = (c.get("demonym") or "").strip()
        if demonym:
            names += [demonym, demonym + "s"]
        capital = c.get("capital") or ""
        names += capital if isinstance(capital, list) else [capital]
        names += [a for a in c.get("altSpellings") or () if len(a) > 3 and "," not in a]
        clean = [n.lower() for n in names if isinstance(n, str) and n.isascii() and len(n) > 2]
        if clean:
            out.append(tuple(dict.fromkeys(clean)))
    return out


@lru_cache(maxsize=1)
def _equivalents() -> dict[str, frozenset[Phrase]]:
    """Stem -> the phrases (as stems) that name the same thing."""
    table: dict[str, set[Phrase]] = {}
    for line in map("|".join, _party_lines()):
        phrases = {p for p in map(_phrase, line.split("|")) if p}
        for phrase in phrases:
            if len(phrase) == 1:  # a question word is one token; "new zealand" is its own group
                table.setdefault(phrase[0], set()).update(phrases - {phrase})
    for line in _SHORT_FORMS.strip().splitlines():
        short, long = map(_phrase, line.split("|"))
        if len(short) == 1 and long and long != short:
            table.setdefault(short[0], set()).add(long)
    return {k: frozenset(v) for k, v in table.items()}


def equivalents(stem: str) -> frozenset[Phrase]:
    """The phrases that mean the same as `stem` (empty when none are known)."""
    return _equivalents().get(stem, frozenset())


def covers(stem: str, present: frozenset[str] | set[str]) -> bool:
    """Does a text whose stems are `present` contain `stem` or an equivalent of it?"""
    return stem in present or any(all(t in present for t in p) for p in equivalents(stem))


# How people talk about negotiations in a chat, in the plain words articles use. The sentence
# model reads idioms poorly ("sticking points" and "the issues the two sides are at odds over"
# score a cosine of 0.17), so the question is embedded and searched with the plain words.
_IDIOMS = [
    (r"sticking[- ]points?", "issues in dispute"),
    (r"hold[- ]?ups?|hang[- ]?ups?|snags?|roadblocks?|blockers?", "issues blocking a deal"),
    (r"deal[- ]?breakers?", "issue that could block a deal"),
    (r"red lines?", "demands it will not give up"),
    (r"bones? of contention", "issue in dispute"),
    (r"on the table", "being negotiated"),
    (r"walk(?:ed|s|ing)? away", "leave the talks"),
    (r"pull(?:ed|s|ing)? the plug(?: on)?", "withdraw from"),
    (r"jack(?:ed|s|ing)? up|hike[sd]?|hiking|bump(?:ed|s)? up", "raise"),
    (r"slap(?:ped|s|ping)?(?= (?:\w+ )?(?:tariffs?|duties|levies|sanctions))", "impose"),
    (r"kick(?:ed|s)? in", "take effect"),
    (r"ditch(?:ed|es|ing)?|scrap(?:ped|s|ping)?|axe[ds]?", "abandon"),
    (r"torpedo(?:ed|es|ing)?|derail(?:ed|s)?|blew up|blow up", "cause the collapse of"),
    (r"hit(?:s|ting)? back", "retaliate"),
    (r"tit[- ]for[- ]tat", "retaliatory"),
    (r"back(?:ed|s)? down|cave[ds]?|caving|blink(?:ed|s)?", "concede"),
    (r"where (?:do|does|did) (?:things|it|they|the talks|talks) stand", "what is the status"),
    (r"what(?:'s| is) the deal with", "what about"),
    (r"the gist|the upshot|the bottom line|tl;?dr", "the summary"),
    (r"fell through|falls? apart|fell apart|collapsed?", "failed"),
    (r"seal(?:ed|s)? the deal|clinch(?:ed|es)?|nail(?:ed)? down", "reach an agreement"),
]
_IDIOM_PATTERNS = [(re.compile(rf"\b(?:{p})\b", re.I), plain) for p, plain in _IDIOMS]


@lru_cache(maxsize=4096)
def plain_words(question: str) -> str:
    """`question` with chat idioms for negotiation moves put in plain words."""
    for pattern, plain in _IDIOM_PATTERNS:
        question = pattern.sub(plain, question)
    return question


def party_names() -> tuple[tuple[str, ...], ...]:
    """Each party's names, lower-case, the country's own name first ("china", "chinese",
    "beijing", ...): what `briefings.parties` looks for in a library's articles."""
    return _party_lines()
