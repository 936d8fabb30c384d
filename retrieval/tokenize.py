"""Tokens for BM25: normalised, stemmed, stop words out (but acronyms such as "US" kept)."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from corpus.normalize import normalize_for_search

_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
# Lucene's list plus question words and auxiliaries, which carry no topic.
STOP_WORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with what who whom whose which when where why how does do did
    done doing has have had having i me my we our you your he him his she her its them about would
    could should can may might must shall s t been being am were any some so than too very just
    also more most other over under up down out off again here only own same both each few all
    from between through during before after above below until while say said says tell""".split()
)


# Irregular verb forms the Snowball stemmer leaves apart from their base ("took" vs "take",
# "bought" vs "buy"): a question asks "when did it take effect?", the article says "took effect".
_IRREGULAR = {
    form: base
    for base, forms in (
        ("take", "took taken"),
        ("buy", "bought"),
        ("go", "went gone"),
        ("make", "made"),
        ("give", "gave given"),
        ("hold", "held"),
        ("meet", "met"),
        ("seek", "sought"),
        ("win", "won"),
        ("lose", "lost"),
        ("begin", "began begun"),
        ("fall", "fell fallen"),
        ("rise", "rose risen"),
        ("strike", "struck stricken"),
        ("lead", "led"),
        ("tell", "told"),
        ("think", "thought"),
        ("bring", "brought"),
        ("come", "came"),
        ("run", "ran"),
        ("sell", "sold"),
        ("speak", "spoke spoken"),
        ("write", "wrote written"),
        ("choose", "chose chosen"),
        ("drive", "drove driven"),
        ("grow", "grew grown"),
        ("know", "knew known"),
        ("see", "saw seen"),
        ("break", "broke broken"),
        ("stand", "stood"),
        ("keep", "kept"),
        ("feel", "felt"),
        ("pay", "paid"),
        ("build", "built"),
        ("send", "sent"),
        ("spend", "spent"),
        ("mean", "meant"),
        ("deal", "dealt"),
        ("freeze", "froze frozen"),
        ("withdraw", "withdrew withdrawn"),
        ("draw", "drew drawn"),
        ("throw", "threw thrown"),
        ("fly", "flew flown"),
        ("become", "became"),
        ("catch", "caught"),
        ("teach", "taught"),
        ("fight", "fought"),
        ("shake", "shook shaken"),
        ("forget", "forgot forgotten"),
        ("hang", "hung"),
    )
    for form in forms.split()
}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _starts_sentence(text: str, position: int) -> bool:
    before = text[:position].rstrip()
    return not before or before[-1] in ".!?:;\"'"


def _is_name(word: str, text: str, position: int) -> bool:
    """An acronym ("US", "IT") or a capitalised word inside a sentence ("Liu He", "in May")
    is a name, not the stop word it spells."""
    if word.isupper() and len(word) > 1:
        return True
    return word[:1].isupper() and not _starts_sentence(text, position)


def tokenize(text: str) -> list[str]:
    """Stemmed content tokens of `text`."""
    words = []
    normalised = normalize_for_search(text)
    for match in _WORD.finditer(normalised):
        word = match.group(0)
        word = word[: word.find("'")] if "'" in word else word
        lower = word.lower()
        if lower in STOP_WORDS and not _is_name(word, normalised, match.start()):
            continue
        if len(lower) == 1 and not lower.isdigit():
            continue
        words.append(_IRREGULAR.get(lower, lower))
    return _stemmer().stemWords(words)
