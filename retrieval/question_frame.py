"""What a question asks, read from its parse: the event it is about (its predicate, "resign",
"vote against", "take effect"), that event's arguments, and the slot the answer must fill (a
person, a date, a figure of something, a reason, a role).

Chat questions come in lower case, and the parser reads "why did trump jack up tariffs" as a
sentence whose verb is "trump": words the articles spell as proper names are given the
articles' capitals first (`truecase`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from corpus.parsing import SentenceParse, parse_one
from retrieval.tokenize import tokenize

# Verbs that carry no event of their own in a question ("what did X do", "what is going on",
# "when was the vote"): the event is in their complement or subject.
LIGHT = frozenset(
    """be do have get happen go make take give come think know tell explain mean say
    want need try seem look feel let can could will would shall should may might must""".split()
)
# Verbs of saying: "what did X say" asks for X's words, not for an event.
SAYING = frozenset(
    """say tell tweet write add note warn argue state announce insist stress urge ask reply
    respond declare explain call describe claim comment suggest acknowledge admit deny
    predict promise vow threaten caution complain praise criticize criticise""".split()
)
WH = frozenset("who whom whose what which when where why how".split())
# The role words an answer to "who…?" may hold instead of a name ("the trade minister").
ROLE_WORDS = frozenset(
    """president premier minister secretary representative ambassador adviser advisor
    negotiator envoy spokesman spokeswoman spokesperson chairman chairwoman chair chief head
    director commissioner governor senator official lawmaker counsel deputy undersecretary
    economist analyst ceo leader chancellor king queen emperor mayor diplomat delegation team
    commander general mullah cleric ayatollah founder member""".split()
)

# The slot an answer fills.
PERSON, DATE, AMOUNT, REASON, ROLE, WORDS, EVENT = (
    "person",
    "date",
    "amount",
    "reason",
    "role",
    "words",
    "event",
)


@dataclass(frozen=True)
class QuestionFrame:
    parse: SentenceParse
    asks: str  # one of the slots above; EVENT for yes/no and what-questions
    predicate: str | None  # the event's lemma ("resign"), None for "who is X?" and the like
    predicate_stem: str | None  # as BM25 stems it ("resign" for "resignation" too)
    particle: str | None  # "down" in "step down", "in" in "kick in"
    arguments: tuple[str, ...]  # stems of the event's participants ("minist", "vote")
    counted: str | None  # "how many MPs": the stem of what is counted
    subject: str | None  # "who is X?" / "what did X say?": X as the question spells it


def truecase(question: str, spellings: Callable[[Iterable[str]], dict[str, str]] | None) -> str:
    """The question with each all-lower-case word the articles use as a proper name spelled
    as they spell it ("trump" -> "Trump", "wto" -> "WTO")."""
    if spellings is None:
        return question
    words = re.findall(r"\b[a-z][a-z]+\b", question)
    if not words:
        return question
    known = spellings(w for w in words if w not in WH)
    if not known:
        return question
    return re.sub(r"\b[a-z][a-z]+\b", lambda m: known.get(m.group(0), m.group(0)), question)


def _stem(word: str) -> str | None:
    tokens = tokenize(word)
    return tokens[0] if tokens else None


def _content(parse: SentenceParse, i: int) -> bool:
    return parse.pos[i] in ("NOUN", "PROPN", "VERB", "ADJ", "NUM") and (
        parse.lemmas[i].lower() not in WH
    )


# Light verbs whose object names the event ("take effect", "make progress", "hold talks").
SUPPORT = frozenset("take make give have get hold".split())
# Quantifiers and the like: never a participant of the event.
NOT_ARGUMENTS = frozenset("many much more most few less least lot lots all any some".split())


def _eventful(parse: SentenceParse, i: int, skip: frozenset[int] = frozenset()) -> bool:
    lemma = parse.lemmas[i].lower()
    word = parse.word(i)
    if i in skip or not word.isalpha():
        return False
    # A capitalised word inside the question is a name, whatever the tagger says ("why did
    # Trump jack up tariffs" is tagged with "Trump" as its verb).
    named = i > 0 and word[:1].isupper()
    return parse.pos[i] in ("VERB", "NOUN") and lemma not in LIGHT and lemma not in WH and not named


def _predicate(parse: SentenceParse, skip: frozenset[int] = frozenset()) -> int | None:
    """The token of the event the question is about (never one of `skip`: the counted noun
    of "how many women were on the team" is what is counted, not an event)."""
    roots = parse.roots
    if not roots:
        return None
    head = roots[0]
    seen = set()
    while head not in seen:
        seen.add(head)
        lemma = parse.lemmas[head].lower()
        kids = parse.children[head]
        if _eventful(parse, head, skip):
            return head
        if lemma in SUPPORT:
            obj = next(
                (k for k in kids if parse.deps[k] == "dobj" and parse.pos[k] == "NOUN"), None
            )
            if obj is not None and parse.lemmas[obj].lower() not in WH:
                return obj
        # "what did X want to do with Y" -> "do"; "is trump lifting tariffs" -> "lifting";
        # "when was the vote" -> "vote" (the subject of a copula)
        nxt = next((k for k in kids if parse.deps[k] in ("xcomp", "ccomp", "advcl", "conj")), None)
        if nxt is None and lemma == "be":
            nxt = next(
                (
                    k
                    for k in kids
                    if parse.deps[k] in ("nsubj", "nsubjpass", "attr")
                    and parse.lemmas[k].lower() not in WH
                    and parse.pos[k] in ("NOUN", "VERB")
                ),
                None,
            )
        if nxt is None:
            break
        head = nxt
    # A parse that went astray: the first verb that can carry the event.
    return next(
        (i for i in range(len(parse)) if parse.pos[i] == "VERB" and _eventful(parse, i, skip)),
        None,
    )


def _counted_token(parse: SentenceParse) -> int | None:
    """The noun "many" or "much" qualifies ("how many MPs …")."""
    for i in range(len(parse)):
        if parse.lemmas[i].lower() in ("many", "much") and parse.deps[i] == "amod":
            head = parse.heads[i]
            if parse.pos[head] in ("NOUN", "PROPN"):
                return head
    return None


def _arguments(parse: SentenceParse, predicate: int | None) -> list[str]:
    """Stems of the event's participants: the question's content words but the event's own
    word, the question words, light verbs, quantifiers and dates (its scope, not its topic)."""
    ent_of = parse.entity_of
    out = []
    for t in range(len(parse)):
        lemma = parse.lemmas[t].lower()
        if t == predicate or not _content(parse, t) or lemma in LIGHT or lemma in NOT_ARGUMENTS:
            continue
        if ent_of[t] >= 0 and parse.ents[ent_of[t]][2] in ("DATE", "TIME"):
            continue
        stem = _stem(parse.word(t))
        if stem and stem not in out:
            out.append(stem)
    return out


def _names_someone(subject: str) -> bool:
    """ "who is X?" about a name ("Liu He", "craig allen"), not a description of a post
    ("canada's foreign minister": that asks who holds it)."""
    words = re.findall(r"[A-Za-z][\w'-]*", subject)
    return 0 < len(words) <= 4 and not any(w.lower().rstrip("s") in ROLE_WORDS for w in words)


def read_frame(
    question: str,
    kind: str,
    *,
    subject: str | None = None,
    speaker: str | None = None,
    counted: str | None = None,
    spellings: Callable[[Iterable[str]], dict[str, str]] | None = None,
) -> QuestionFrame:
    """The frame of `question`, whose `kind` (who, when, …) the regular rules of
    `retrieval.question_analysis` have read."""
    parse = parse_one(truecase(question, spellings))
    counted_at = _counted_token(parse) if kind == "how-much" else None
    predicate = _predicate(parse, frozenset({counted_at} if counted_at is not None else ()))
    lemma = parse.lemmas[predicate].lower() if predicate is not None else None
    particle = None
    if predicate is not None:
        particle = next(
            (parse.word(k).lower() for k in parse.children[predicate] if parse.deps[k] == "prt"),
            None,
        )
    if speaker:
        asks, about = WORDS, speaker
    elif subject and _names_someone(subject):
        asks, about = ROLE, subject
    else:
        asks = {
            "who": PERSON,
            "when": DATE,
            "how-much": AMOUNT,
            "why": REASON,
        }.get(kind, EVENT)
        about = None
    return QuestionFrame(
        parse=parse,
        asks=asks,
        predicate=lemma,
        predicate_stem=_stem(parse.word(predicate)) if predicate is not None else None,
        particle=particle,
        arguments=tuple(_arguments(parse, predicate)),
        counted=counted or (_stem(parse.word(counted_at)) if counted_at is not None else None),
        subject=about,
    )
