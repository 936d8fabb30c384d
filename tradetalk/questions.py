"""Checking a question before any search: empty, too long, or not words at all."""

from __future__ import annotations

import re
from collections.abc import Callable

from corpus.normalize import clean_unicode
from tradetalk.errors import QuestionError

_LETTERS = re.compile(r"[^\W\d_]+")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")
_REPEAT = re.compile(r"(.)\1{3,}")


def _wordlike(word: str) -> bool:
    lower = word.lower()
    if word.isupper() or (len(lower) <= 3 and not _REPEAT.search(lower)):
        return len(lower) > 1 or lower in "ai" or word.isupper()  # acronyms, "ch", "vs", "I"
    if not lower.isascii():
        return True  # not ours to judge
    return (
        bool(re.search(r"[aeiouy]", lower))
        and not _CONSONANT_RUN.search(lower)
        and not _REPEAT.search(lower)
    )


def _name_like(word: str) -> bool:
    """Spelled as a name: a capital, then lower case, with a vowel ("Brzezinski")."""
    return (
        len(word) > 1
        and word[0].isupper()
        and word[1:].islower()
        and bool(re.search(r"[aeiouy]", word.lower()))
    )


# Lone surrogates: what Python makes of bytes that are not UTF-8 (a command-line argument, a
# line of stdin read with "surrogateescape") or what a JSON "\ud800" escape decodes to. They are
# not text: no tokenizer takes them and no reply can be encoded with them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_question(
    question: str, *, max_chars: int, known: Callable[[str], bool] | None = None
) -> str:
    """The question, tidied; or `QuestionError` with a message fit to show the asker. Bytes
    that were not UTF-8 are read as U+FFFD (the replacement character), as a decoder with
    ``errors="replace"`` reads them. `known(word)` says whether the articles use a word: a word
    they use, or one spelled as a name ("Schwarzschild", "Mnangagwa"), is never taken for
    keyboard mashing; whether the articles cover a question about it is for the answer to say."""
    text = clean_unicode(_SURROGATE.sub("\ufffd", question or ""))
    text = " ".join(text.split())
    if not text:
        raise QuestionError('Please ask a question, e.g. "What blocks the deal?"')
    if len(text) > max_chars:
        raise QuestionError(
            f"That question is {len(text):,} characters long; please keep it under {max_chars:,}."
        )
    words = _LETTERS.findall(text)
    numbers = re.findall(r"\d+", text)
    if not words:
        raise QuestionError("I couldn't find any words in that question; please ask in words.")
    sensible = [
        w
        for w in words
        if _wordlike(w) or _name_like(w) or (known is not None and known(w.lower()))
    ]
    if 2 * (len(sensible) + len(numbers)) <= len(words) + len(numbers):
        raise QuestionError("I couldn't make sense of that question; could you rephrase it?")
    return text


# A follow-up's own words count for this share of the query; the question it follows, the rest.
FOLLOW_UP_WEIGHT = 0.65
_ELLIPTICAL = re.compile(
    r"^\s*(and|also|but|so|what about|how about|what of|and what|same for|why|how come)\b|"
    r"\b(it|its|they|them|their|that|this|those|these|he|she|his|her)\b",
    re.I,
)


def is_follow_up(question: str) -> bool:
    """Does `question` lean on the one before it ("and what about dairy?", "why did they?")?"""
    words = _LETTERS.findall(question)
    return bool(_ELLIPTICAL.search(question)) or len(words) <= 4
