"""Does a sentence give what the question asks? Checked on the sentence's parse (made once at
ingest): not only that it holds a date, a figure or a name, but that the date is of the asked
event, the figure of the counted thing, the name the one who did what was asked, X's role in
an apposition, X the one who speaks.

The checks are shapes of English grammar (an entity within a few dependency links of the
event's word), never an article's wording.
"""

from __future__ import annotations

from functools import lru_cache

from corpus.parsing import SentenceParse
from retrieval.question_frame import (
    AMOUNT,
    DATE,
    PERSON,
    REASON,
    ROLE,
    ROLE_WORDS,
    SAYING,
    WORDS,
    QuestionFrame,
)
from retrieval.tokenize import tokenize
from retrieval.vocabulary import covers

# An answer is "bound" to the event when it is at most this many dependency links from the
# event's word: "talks resumed in Washington on Tuesday" (2: Tuesday -> resumed), but not a
# date in another clause of a long sentence.
BOUND_LINKS = 3
PERSONS = frozenset(("PERSON", "ORG", "NORP", "GPE"))
AMOUNTS = frozenset(("CARDINAL", "MONEY", "PERCENT", "QUANTITY"))
DATES = frozenset(("DATE", "TIME"))
CAUSAL = frozenset(
    """because since due owing result response retaliation retaliate order aim amid after
    over cite concern fear protest accuse blame reason cause prompt trigger lead so thanks
    face pressure force protect punish counter unless""".split()
)
FEATURES = ("pred", "bound", "args", "role_parse", "speaks_parse", "count_bound", "satisfies")
# Of the event's participants, a sentence that gives the answer holds at least this share.
ARGS_ENOUGH = 0.5


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str | None:
    tokens = tokenize(word)
    return tokens[0] if tokens else None


def _stems(parse: SentenceParse) -> list[str | None]:
    return [_stem(parse.word(i)) for i in range(len(parse))]


def _depths(parse: SentenceParse) -> list[int]:
    return [sum(1 for _ in parse.ancestors(i)) for i in range(len(parse))]


def links(parse: SentenceParse, a: int, b: int, depth: list[int]) -> int:
    """Dependency links between tokens `a` and `b`."""
    up_a = [a, *parse.ancestors(a)]
    up_b = set([b, *parse.ancestors(b)])
    for n, t in enumerate(up_a):
        if t in up_b:
            return n + (depth[b] - depth[t])
    return len(parse)  # different roots: as far as can be


def _typed(parse: SentenceParse, asks: str, question_stems: frozenset[str]) -> list[int]:
    """Tokens that could fill the asked slot."""
    ent_of = parse.entity_of
    out = []
    for i in range(len(parse)):
        e = ent_of[i]
        label = parse.ents[e][2] if e >= 0 else ""
        if asks == DATE:
            if label in DATES:
                out.append(i)
        elif asks == AMOUNT:
            if label in AMOUNTS or (parse.pos[i] == "NUM" and label not in DATES):
                out.append(i)
        elif asks == PERSON:
            word_stem = _stem(parse.word(i))
            if word_stem in question_stems:
                continue  # the question's own names are not the answer
            if label in PERSONS or parse.lemmas[i].lower() in ROLE_WORDS:
                out.append(i)
        elif asks == REASON and (
            parse.lemmas[i].lower() in CAUSAL or parse.deps[i] in ("advcl", "mark")
        ):
            out.append(i)
    return out


def _anchors(stems: list[str | None], wanted: str | None) -> list[int]:
    return [i for i, s in enumerate(stems) if s is not None and s == wanted] if wanted else []


def _name_tokens(parse: SentenceParse, stems: list[str | None], name: str) -> list[int]:
    """Tokens of `name` in the sentence: its last word (as people are named: "Freeland" for
    "Chrystia Freeland"), when the sentence also holds the words that say whose it is
    ("Mexico's president" is not any president; one of three or more words may be missing,
    "the canadian foreign minister" being "Foreign Minister Freeland")."""
    words = [w for w in tokenize(name) if w]
    if not words:
        return []
    present = frozenset(s for s in stems if s)
    qualifiers = words[:-1]
    missing = sum(not covers(w, present) for w in qualifiers)
    if missing > (1 if len(qualifiers) >= 2 else 0):
        return []
    return _anchors(stems, words[-1])


def _gives_role(parse: SentenceParse, name: list[int]) -> bool:
    """X in an apposition ("X, the bloc's chief negotiator"), under a title ("Trade
    Representative X", "China's top negotiator X"), or described by a copula ("X is …")."""
    for i in name:
        deps = parse.deps
        kids = parse.children[i]
        if any(deps[k] == "appos" for k in kids) or deps[i] == "appos":
            return True
        for k in kids:
            if deps[k] in ("compound", "amod", "nmod", "poss") and (
                parse.lemmas[k].lower() in ROLE_WORDS
                or any(parse.lemmas[j].lower() in ROLE_WORDS for j in parse.subtree(k))
            ):
                return True
        head = parse.heads[i]
        if (
            deps[i] == "nsubj"
            and parse.lemmas[head].lower() == "be"
            and any(deps[k] == "attr" for k in parse.children[head])
        ):
            return True
        if deps[i] == "pobj" and parse.lemmas[head].lower() == "as":
            return True
    return False


def _speaks(parse: SentenceParse, name: list[int]) -> bool:
    """X is who says something: the subject of a verb of saying, or "according to X"."""
    for i in name:
        j = i
        # "Foreign Minister X" -> the name's head noun; an appositive's head is the subject
        while parse.deps[j] in ("compound", "appos", "flat") and parse.heads[j] != j:
            j = parse.heads[j]
        head = parse.heads[j]
        if parse.deps[j] in ("nsubj", "nsubjpass") and parse.lemmas[head].lower() in SAYING:
            return True
        if parse.deps[j] == "pobj" and parse.lemmas[head].lower() == "to":
            before = parse.heads[head]
            if parse.lemmas[before].lower() == "accord":
                return True
    return False


def frame_features(
    frame: QuestionFrame | None,
    parse: SentenceParse | None,
    rarest: str | None,
    context: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """The parse checks of one sentence against the question's frame (all 0 when either is
    missing: a passage stored without parses, a library of an older format)."""
    out = dict.fromkeys(FEATURES, 0.0)
    if frame is None or parse is None or not len(parse):
        return out
    stems = _stems(parse)
    present = {s for s in stems if s}
    pred = _anchors(stems, frame.predicate_stem)
    out["pred"] = float(bool(pred))
    depth = None
    if frame.arguments:
        # The event's participants, near its word when the sentence has it (the minister who
        # resigned, not a minister who spoke about someone who did).
        if pred:
            depth = _depths(parse)
            near = {
                stems[t]
                for a in pred
                for t in range(len(parse))
                if stems[t] and links(parse, a, t, depth) <= BOUND_LINKS
            }
        else:
            near = present
        out["args"] = sum(a in near for a in frame.arguments) / len(frame.arguments)
    if frame.asks in (PERSON, DATE, AMOUNT, REASON):
        # Bound to the asked event's word; only a question naming no event is anchored on
        # its rarest term ("who is canada's ambassador": to "ambassador", never to "Canada").
        anchors = pred if frame.predicate_stem else _anchors(stems, rarest)
        question = frozenset(s for s in (_stem(w) for w in frame.parse.lemmas) if s)
        typed = _typed(parse, frame.asks, question)
        if anchors and typed:
            depth = depth or _depths(parse)
            out["bound"] = float(
                any(links(parse, a, t, depth) <= BOUND_LINKS for a in anchors for t in typed)
            )
    if frame.asks == AMOUNT and frame.counted:
        counted = _anchors(stems, frame.counted)
        amounts = _typed(parse, AMOUNT, frozenset())
        if counted and amounts:
            depth = depth or _depths(parse)
            out["count_bound"] = float(
                any(links(parse, c, t, depth) <= 2 for c in counted for t in amounts)
            )
    if frame.subject and frame.asks in (ROLE, WORDS):
        name = _name_tokens(parse, stems, frame.subject)
        if name:
            out["role_parse"] = float(frame.asks == ROLE and _gives_role(parse, name))
            if frame.asks == WORDS and _speaks(parse, name):
                # X speaking, and about what was asked ("what did X say about Y?": Y in the
                # sentence, or in its paragraph or headline: `context`).
                about = [a for a in frame.arguments if a not in set(tokenize(frame.subject))]
                around = present | context
                share = sum(a in around for a in about) / len(about) if about else 1.0
                out["speaks_parse"] = float(share >= ARGS_ENOUGH)
    out["satisfies"] = float(_satisfies(frame, out))
    return out


def _satisfies(frame: QuestionFrame, checks: dict[str, float]) -> bool:
    """All the checks that apply to this question pass: the sentence gives what is asked, of
    the asked event and its participants."""
    enough = not frame.arguments or checks["args"] >= ARGS_ENOUGH
    if frame.asks == ROLE:
        return bool(checks["role_parse"])
    if frame.asks == WORDS:
        return bool(checks["speaks_parse"])
    if frame.asks == AMOUNT and frame.counted:
        return bool(checks["count_bound"] or checks["bound"]) and enough
    if frame.asks in (PERSON, DATE, AMOUNT, REASON):
        return bool(checks["bound"]) and enough
    return (frame.predicate is None or bool(checks["pred"])) and enough
