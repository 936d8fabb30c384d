"""Does a sentence hold the kind of thing a question asks for? A name for "who", a date for
"when", a figure for "how much", a reason for "why". Shapes of news English, no article's words."""

from __future__ import annotations

import re
from functools import lru_cache

from retrieval.question_analysis import HOW_MUCH, WHEN, WHO, WHY

# A person or body: two or more capitalised words ("Robert Lighthizer", "Liu He"), or a title
# before or after a name ("Vice Premier Liu", "Lighthizer, the trade representative").
TITLES = (
    r"president|vice[- ]president|premier|vice[- ]premier|prime minister|minister|secretary|"
    r"representative|ambassador|adviser|advisor|negotiator|envoy|spokesman|spokeswoman|"
    r"spokesperson|chairman|chairwoman|chair|chief|head|director|commissioner|governor|senator|"
    r"official|officials|lawmaker|counsel|deputy|undersecretary|economist|analyst|ceo|leader|"
    r"chancellor|king|queen|emperor|mayor|diplomat|delegation|team"
)
_TITLE = re.compile(rf"\b({TITLES})\b", re.I)
_PERSON = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Za-z]+)?(?:\s+[A-Z][a-z]+(?:[-'][A-Za-z]+)?)+\b")
# Capitalised runs that name places, bodies or days, not people ("United States", "White
# House", "New Zealand", "Trade Representative" is a title, kept by the title check).
_NOT_A_PERSON = re.compile(
    r"\b(?:United|States|Kingdom|Nations|Union|House|Zealand|Korea|Africa|Arabia|Republic|"
    r"Department|Ministry|Office|Council|Commission|Congress|Senate|Parliament|Party|Bank|"
    r"Fund|Organization|Organisation|Agreement|Partnership|Trade|Economic|Free|Pacific|"
    r"Atlantic|Asia|European|North|South|East|West|Street|Hall|Monday|Tuesday|Wednesday|"
    r"Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|August|"
    r"September|October|November|December|Phase|Chapter|Section|Article|Times|Post|News|"
    r"Press|Daily|Journal|Reuters|Bloomberg|Association|Institute|Federation|Bureau)\b"
)
_DATE = re.compile(
    r"\b(?:19|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s+\d|"
    r"\b(?:January|February|March|April|June|July|August|September|October|November|December)\b|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|"
    r"tonight|deadline|weekend|week|month|year|morning|night|evening|afternoon|spring|summer|"
    r"autumn|fall|winter|decade|days?|weeks|months|years)\b",
    re.I,
)
# A quantity: digits (not a label such as "Chapter 19" or "Section 232", not a bare year), a
# number word, or a share.
_FIGURE = re.compile(
    r"(?<![A-Z][a-z]{2} )(?<![A-Z][a-z]{3} )(?<![A-Z][a-z]{4} )(?<![A-Z][a-z]{5} )"
    r"(?<![A-Z][a-z]{6} )(?<![A-Z][a-z]{7} )(?<!\d)(?!(?:19|20)\d\d\b)\d[\d,.]*|"
    r"(?i:\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|billion|trillion|dozen|half|quarter|"
    r"double|doubled|triple|tripled|percent|per cent)\b)|%",
)
_REASON = re.compile(
    r"\b(because|since|due to|owing to|as a result|result of|in response|response to|"
    r"retaliat\w*|in order to|so that|aimed at|aims? to|meant to|intended to|to (protect|"
    r"punish|pressure|force|counter|address|stop|curb|end|reduce|narrow|avoid|prevent)|"
    r"over (concerns?|fears?|worries)|amid|after|accus\w*|concerns? (about|over|that)|"
    r"fears? (of|that)|blamed|reason|why|caused?|led to|prompted|triggered|backtrack\w*|"
    r"reneg\w*|so as to|citing|cited|given|thanks to|in light of|at the request of|as a sign of|"
    r"on the grounds|argu\w+ that|said (?:it|they|he|she) (?:was|were|would|wanted)|"
    r"in exchange for|unless|if)\b",
    re.I,
)


@lru_cache(maxsize=20_000)
def holds_answer_type(kind: str, sentence: str, question: str) -> bool:
    """True when `sentence` has what a question of `kind` needs that `question` itself does
    not already give (a "who" answer names someone the question doesn't)."""
    if kind == WHO:
        asked = question.lower()
        names = [
            n
            for n in _PERSON.findall(sentence)
            if n.lower() not in asked and not _NOT_A_PERSON.search(n)
        ]
        return bool(names) or bool(_TITLE.search(sentence))
    if kind == WHEN:
        return bool(_DATE.search(sentence))
    if kind == HOW_MUCH:
        return bool(_FIGURE.search(sentence))
    if kind == WHY:
        return bool(_REASON.search(sentence))
    return True


def needs_answer_type(kind: str) -> bool:
    return kind in (WHO, WHEN, HOW_MUCH, WHY)


@lru_cache(maxsize=20_000)
def gives_role(subject: str, sentence: str) -> bool:
    """For "who is X?": does the sentence say what X is ("X, the U.S. trade representative",
    "Trade Representative X", "X is China's vice premier"), not merely mention X?"""
    words = [w for w in re.findall(r"[A-Za-z][\w'-]+", subject) if w[:1].isupper() or len(w) > 3]
    if not words:
        return False
    name = re.escape(words[-1])
    # Titles in any case; the words between a title and the name capitalised (part of it).
    before = rf"(?i:\b(?:{TITLES})\b)(?:\s+[A-Z][\w.'-]*){{0,4}}\s+{name}\b"
    after = (
        rf"\b{name}\b(?:'s)?(?:,\s+|\s+(?i:is|was|who is|who was|as|became|becomes)\s+)"
        rf"(?i:the\s+|a\s+|an\s+)?(?:[\w.'-]+\s+){{0,5}}?(?i:\b(?:{TITLES})\b)"
    )
    return bool(re.search(before, sentence) or re.search(after, sentence))


_SPEECH = (
    r"said|says|say|told|tells|tweeted|wrote|writes|added|adds|noted|warned|argued|stated|"
    r"announced|insisted|stressed|urged|asked|replied|responded|declared|explained|called|"
    r"described|according to"
)


@lru_cache(maxsize=20_000)
def speaks(name: str, sentence: str) -> bool:
    """Is `name` (its last word) the speaker of something in `sentence`: "X said", "said X",
    "X, the minister, told reporters", "according to X"?"""
    words = re.findall(r"[A-Za-z][\w'-]+", name)
    if not words:
        return False
    who = re.escape(words[-1])
    return bool(
        re.search(rf"\b{who}\b(?:'s)?[^.;]{{0,80}}?\b(?:{_SPEECH})\b", sentence, re.I)
        or re.search(rf"\b(?:{_SPEECH})\b[^.;]{{0,40}}?\b{who}\b", sentence, re.I)
    )
