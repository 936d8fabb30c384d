"""How a follow-up is read against the exchange before it: the text it is asked as, the
context passed with it (the engine's ``previous``), and which sentences of the earlier answer
it may not simply repeat.

This is the one place a follow-up's context is formed. The engine reads ``previous`` as the
question a follow-up leans on (its focus terms at half weight, its vector at 35%); what goes in
there decides whether the follow-up is answered or the earlier question is answered again.

- **A new subject.** "and what did Trump say?" after "Who did Freeland meet in Washington?"
  is a question about Trump: the earlier question's names (Freeland, Washington) are the
  slot it replaces, so they are left out of its context. Passed along with them, they pull
  the earlier answer (Freeland's quote) back above Trump's own line.
- **A name in the earlier slot.** "and Freeland?" after "What did Kudlow say?" is asked as
  "What did Freeland say?": the earlier question with its speaker or subject replaced.
- **Everything else that leans back** ("why?", "and dairy?", "what did he say?") is read with
  the earlier question as context, as before. Its answer must then bring something the member
  has not just been shown: `without_repeats` drops the earlier answer's sentences unless they
  hold the follow-up's own words (or the name, date or figure it asks for), so "why?" never
  comes back as the previous answer word for word.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.question_analysis import HOW_MUCH, WHEN, WHO, QuestionAnalysis, analyze_question
from retrieval.tokenize import tokenize
from tradetalk.answer import Answer
from tradetalk.answer_types import holds_answer_type
from tradetalk.questions import is_follow_up

MAX_CONTEXT_CHARS = 600
# Why the answer to a follow-up was withheld: all it found was what the member had just read.
ONLY_REPEATS = "only-repeats"

# Words that tie a reply to what came before without saying anything themselves.
_CONNECTIVE = re.compile(r"^\s*(?:(?:and|also|but|so|ok(?:ay)?|then|well)\b[\s,]*)+", re.I)
# "and Freeland?", "what about the Americans?", "how about Canada's negotiators?"
_SLOT = re.compile(
    r"^\s*(?:and|also|but|so)?\s*(?:what about|how about|what of|same for|and)\s+(?P<rest>.+?)"
    r"[\s?.!]*$",
    re.I,
)
_QUESTION_WORD = re.compile(
    r"\b(?:who|whom|whose|what|when|where|why|how|which|is|are|was|were|did|does|do|has|have|"
    r"had|will|would|can|could|should)\b",
    re.I,
)


@dataclass(frozen=True)
class Exchange:
    """What a follow-up follows: the question as it was understood, and the sentences of the
    answer the member was shown (empty when unknown, e.g. read back after a restart)."""

    question: str
    sentences: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUp:
    """A question as it is asked: its text, the context the engine reads it with, what the
    next follow-up leans on, and the sentences its answer may not merely repeat."""

    question: str
    previous: str | None = None
    standing: str = ""  # the context a later follow-up is read against
    seen: tuple[str, ...] = ()
    own_terms: tuple[str, ...] = ()  # its own focus terms (stems) a repeated sentence may hold
    kind: str = ""


# Only whether a question names dates matters here (the engine resolves them against its
# articles); a fixed day and a wide span of years keep this pure.
_TODAY, _YEARS = dt.date(2000, 1, 1), range(1900, 2101)


def _analyse(text: str) -> QuestionAnalysis:
    return analyze_question(text, today=_TODAY, years=_YEARS)


def _mentions(name: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text, re.I) is not None


def _without_names(question: str, names: Sequence[str]) -> str:
    """The question with its names taken out, or "" when nothing with a meaning is left."""
    text = question
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b\.?", " ", text)
    text = " ".join(text.split())
    return text if _analyse(text).focus else ""


def _joined(earlier: str, question: str) -> str:
    """Both questions, capped from the start so chains stay short."""
    combined = f"{earlier} {question}"
    if len(combined) <= MAX_CONTEXT_CHARS:
        return combined
    tail = combined[-MAX_CONTEXT_CHARS:]
    return tail.split(" ", 1)[-1]  # start on a whole word


def read_follow_up(question: str, earlier: Exchange | None) -> FollowUp:
    """`question` as it is asked after `earlier` (None: nothing before it)."""
    if earlier is None or not earlier.question or not is_follow_up(question):
        return FollowUp(question, standing=question)
    own, old = _analyse(question), _analyse(earlier.question)
    new_names = [n for n in own.names if not _mentions(n, earlier.question)]
    slot = _SLOT.match(question)
    held = old.speaker or old.subject
    if slot and new_names and held and not _QUESTION_WORD.search(slot["rest"]):
        # "and Freeland?" after "What did Kudlow say?": the earlier question, about Freeland.
        asked = re.sub(rf"\b{re.escape(held)}\b", slot["rest"], earlier.question, count=1)
        return FollowUp(asked, standing=asked)
    body = _CONNECTIVE.sub("", question).strip() or question
    body = body[:1].upper() + body[1:]  # a question of its own, as the answer's title shows it
    person = own.speaker or own.subject
    if new_names and _QUESTION_WORD.search(body):
        if person and any(_mentions(n, person) for n in new_names):
            # "what did Trump say?", "who is Kudlow?": the person is its topic. Of the earlier
            # question only its dates carry over; its topic words ("meet in Washington") would
            # bring its own answer back above the person's words.
            context = old.scope.label if old.scope and not own.scope else None
            return FollowUp(body, previous=context, standing=body)
        # "and what does Canada want?" after "... the U.S. want on Chapter 19?": the earlier
        # question's actors are what it replaces; its topic stays.
        # A capitalised word before a number labels a clause ("Chapter 19"): topic, not actor.
        actors = [
            n for n in old.names if not re.search(rf"\b{re.escape(n)}\s+\d", earlier.question)
        ]
        context = _without_names(earlier.question, actors) or None
        return FollowUp(body, previous=context, standing=body)
    return FollowUp(
        question,
        previous=earlier.question,
        standing=_joined(earlier.question, question),
        seen=earlier.sentences,
        own_terms=own.focus,
        kind=own.kind,
    )


def _repeats(sentence: str, seen: Sequence[str]) -> bool:
    flat = " ".join(sentence.split())
    return any(flat == " ".join(s.split()) for s in seen)


def _still_answers(sentence: str, follow_up: FollowUp) -> bool:
    """Does a sentence the member has seen answer the follow-up anyway: it holds the
    follow-up's own words ("and Canada?"), or the name, date or figure it asks for. A "why?"
    is never answered by what was just shown: asking it says the answer gave no reason."""
    if follow_up.own_terms and set(follow_up.own_terms) <= set(tokenize(sentence)):
        return True
    if follow_up.kind in (WHO, WHEN, HOW_MUCH) and not follow_up.own_terms:
        return holds_answer_type(follow_up.kind, sentence, follow_up.previous or "")
    return False


def without_repeats(answer: Answer, follow_up: FollowUp) -> Answer:
    """The answer without the earlier answer's sentences that don't answer the follow-up
    (citations renumbered); an abstention with reason `ONLY_REPEATS` when none are left."""
    if answer.abstained or not follow_up.seen:
        return answer
    kept = [
        s
        for s in answer.sentences
        if not _repeats(s.text, follow_up.seen) or _still_answers(s.text, follow_up)
    ]
    if len(kept) == len(answer.sentences):
        return answer
    if not kept:
        return replace(
            answer, abstained=True, sentences=(), citations=(), reason=ONLY_REPEATS, points=False
        )
    used = list(dict.fromkeys(s.citation for s in kept))
    number = {old: new for new, old in enumerate(used, start=1)}
    citations = tuple(
        replace(c, number=number[c.number]) for c in answer.citations if c.number in number
    )
    citations = tuple(sorted(citations, key=lambda c: c.number))
    sentences = tuple(replace(s, citation=number[s.citation]) for s in kept)
    return replace(answer, sentences=sentences, citations=citations)
