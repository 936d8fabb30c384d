"""Deciding from the evidence that the articles don't answer a question.

Not one cosine: the decision weighs what the best candidate sentences hold against what the
question asks (`FEATURES`): how close they are, whether they hold its focus terms (its rarest
one above all), whether the question names something no article, title, outlet or equivalent
spelling contains, whether a "who"/"when"/"how much" question finds a name, date or figure
near its topic, and whether a dated question finds sentences of those dates. A logistic model
over these, fitted on the tune halves of the development sets by `bench/quality/calibrate.py`,
gives the probability that the articles don't answer; above the calibrated threshold the bot
declines. The trade-off curve is in docs/RETRIEVAL.md.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from retrieval.question_analysis import QuestionAnalysis
from retrieval.question_frame import (
    AMOUNT,
    DATE,
    EVENT,
    PERSON,
    REASON,
    ROLE,
    WORDS,
    QuestionFrame,
)
from retrieval.search import SearchResult
from retrieval.text import term_set
from retrieval.tokenize import tokenize
from retrieval.vocabulary import covers
from tradetalk.answer_types import needs_answer_type, speaks
from tradetalk.sentence_choice import WEIGHTS_FILE, Candidate, rarest_focus

# Words a chat question uses for "the problem", "the news" and the like: not knowing one of
# them says nothing about whether the articles answer the question.
CONVERSATIONAL = frozenset(
    tokenize(
        """holdup hold-up hangup hang-up snag snags blocker blockers gist rundown lowdown scoop
        tldr tl;dr recap update updates upshot takeaway takeaways bottom line overall basically
        literally honestly seriously actually really quick quickly brief briefly gonna wanna
        gotta kinda sorta y'all yall folks guys dude bro lol lmao btw imo imho fyi tbh
        anyone anybody someone somebody everyone ppl people stuff things whatever whats
        currently nowadays lately recently happening going matter problem problems trouble
        issue issues point points thing fuss drama beef spat saga mess situation story deal
        news headline headlines word hear heard rumor rumour rumors rumours sticking exactly
        ever vs versus etc supposed bit bits moment moments per piece pieces part parts kind
        sort type stuff""".replace("-", " ")
    )
)
TOP = 5  # the candidates the decision looks at
FEATURES = (
    "cosine",  # the best sentence's cosine with the question
    "max_cosine",  # the highest cosine of any candidate
    "passage_cosine",  # the best sentence's passage's cosine
    "score",  # the best sentence's answer score (tradetalk.sentence_choice)
    "focus",  # the best sentence's share of the question's focus terms
    "focus_top",  # the highest share among the top candidates
    "rarest_top",  # the rarest focus term is in one of the top candidates
    "unknown",  # share (IDF-weighted) of the focus no article contains
    "unknown_name",  # a capitalised name or a figure no article contains
    "unknown_thing",  # a word no article contains that the dictionary knows only as a noun
    "unknown_word",  # a word no article contains that no dictionary has (a name, mostly)
    "type_missing",  # a who/when/how-much/why question, and no top candidate holds the type
    "scope_missing",  # a dated question, and no top candidate is of those dates
    "typed_focus_missing",  # ... and no top candidate holds the type with the rarest term
    "speaker_missing",  # "what did X say?", and no top candidate has X saying anything
    # "what did X say?" / "who is X?" where X has a word no article (nor an equivalent) has:
    # the articles can't hold X's words or role ("Mexico's president" in an article that
    # never names Mexico).
    "subject_unknown",
    "count_missing",  # "how many X?", and no top candidate gives a figure in a passage about X
    # From the parse (tradetalk.answer_checks), over the top candidates:
    "bound_missing",  # a who/when/how-much/why question, and none has the asked thing bound
    "pred_missing",  # the question names an event, and none has its word
    "args_top",  # the largest share of the event's participants one of them holds
    "role_missing",  # "who is X?", and none gives X's role
    "words_missing",  # "what did X say?", and none has X as the one speaking
    # None passes every check that applies to the question, by what it asks: X's words or
    # role (the cleanest checks), a name/date/figure/reason, or an event.
    "unsatisfied_about",
    "unsatisfied_typed",
    "unsatisfied_event",
)


@dataclass(frozen=True)
class AbstentionPolicy:
    threshold: float | None = None  # probability above which to decline; None: the fitted one
    min_cosine: float = 0.0  # and always when no candidate sentence is this close (a setting)
    enabled: bool = True  # False: answer everything (to measure selection alone)
    # (coefficients, intercept) of the decline model; None: the fitted ones. The bench passes
    # models fitted without the set it scores (leave-one-negotiation-out).
    model: tuple[dict[str, float], float] | None = None


@lru_cache(maxsize=1)
def fitted_model() -> tuple[dict[str, float], float, float]:
    """(coefficients, intercept, threshold) written by bench/quality/calibrate.py."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["abstention"]
    coefficients = {name: float(data["coefficients"].get(name, 0.0)) for name in FEATURES}
    return coefficients, float(data["intercept"]), float(data["threshold"])


def unknown_focus(analysis: QuestionAnalysis, result: SearchResult) -> list[str]:
    """Focus terms of the question that no article, title, outlet or equivalent holds."""
    unknown = set(result.unknown_tokens)
    return [t for t in analysis.focus if t in unknown and t not in CONVERSATIONAL]


def _unknown_names(analysis: QuestionAnalysis, result: SearchResult) -> list[str]:
    """Capitalised names in the question ("Wilbur Ross") that no article holds."""
    unknown = set(result.unknown_tokens)
    found = []
    for name in analysis.names:
        tokens = tokenize(name)
        if tokens and all(t in unknown for t in tokens):
            found.append(name)
    return found


@lru_cache(maxsize=2048)
def _surface_words(question: str) -> dict[str, str]:
    """Stem -> the question's own word for it ("rollback" -> "rollbacks")."""
    words: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z][\w'-]*", question):
        tokens = tokenize(word)
        if tokens:
            words.setdefault(tokens[0], word)
    return words


# "couldn't", "doesnt", "what's": the question's grammar, never a thing it names.
_CONTRACTION = re.compile(r"(?:n'?t|'s|'re|'ll|'d|'ve|'m)$", re.I)


def unknown_things(
    analysis: QuestionAnalysis, result: SearchResult, *, in_dictionary: bool | None = None
) -> list[str]:
    """Unknown focus words that name a thing: a word the dictionary knows only as a noun
    ("whiskey", "rollbacks") or not at all ("Ecuador", "Amano"). An unknown verb ("jack up",
    "ditch") is usually a paraphrase of one the articles use, so it says little. With
    `in_dictionary` True only the dictionary's nouns ("diplomat", "ceremony": often another
    word for something the articles say), with False only words it lacks (names, mostly)."""
    from lemminflect import getAllLemmas  # its lexicon loads on first use

    found = []
    for stem in unknown_focus(analysis, result):
        if any(ch.isdigit() for ch in stem):
            continue  # a figure or a label ("g20"): spelled too many ways to judge
        word = _surface_words(analysis.question).get(stem, stem)
        if _CONTRACTION.search(word):
            continue
        lemmas = getAllLemmas(word.lower())
        if lemmas and {"VERB", "ADJ", "ADV"} & set(lemmas):
            continue
        if in_dictionary is None or in_dictionary == bool(lemmas):
            found.append(word)
    return found


def abstention_features(
    analysis: QuestionAnalysis, result: SearchResult, candidates: list[Candidate]
) -> dict[str, float]:
    top = candidates[:TOP]
    best = top[0]
    weights = result.token_weights
    focus_weight = sum(weights.get(t, 1.0) for t in analysis.focus) or 1.0
    missing = unknown_focus(analysis, result)
    rarest = rarest_focus(analysis, result)
    return {
        "cosine": best.cosine,
        "max_cosine": max(c.cosine for c in candidates),
        "passage_cosine": best.features["passage_cosine"],
        "score": best.score,
        "focus": best.focus,
        "focus_top": max(c.focus for c in top),
        "rarest_top": float(rarest is None or any(c.features["rarest"] for c in top)),
        "unknown": sum(weights.get(t, 1.0) for t in missing) / focus_weight,
        "unknown_name": float(bool(_unknown_names(analysis, result))),
        "unknown_thing": float(bool(unknown_things(analysis, result, in_dictionary=True))),
        "unknown_word": float(bool(unknown_things(analysis, result, in_dictionary=False))),
        "type_missing": float(needs_answer_type(analysis.kind) and not any(c.typed for c in top)),
        "scope_missing": float(
            analysis.scope is not None and not any(c.features["in_scope"] for c in top)
        ),
        "typed_focus_missing": float(
            needs_answer_type(analysis.kind)
            and not any(c.typed and c.features["rarest"] for c in top)
        ),
        "count_missing": float(
            analysis.counted is not None
            and not any(
                c.typed
                and covers(
                    analysis.counted,
                    term_set(c.hit.record.text, c.hit.article.date, c.hit.article.title),
                )
                for c in top
            )
        ),
        "speaker_missing": float(
            analysis.speaker is not None and not any(speaks(analysis.speaker, c.text) for c in top)
        ),
        "subject_unknown": float(_subject_unknown(analysis, result)),
        **_frame_evidence(analysis.frame, top),
    }


def _subject_unknown(analysis: QuestionAnalysis, result: SearchResult) -> bool:
    """X of "what did X say?" / "who is X?" holds a name no article (nor an equivalent) has: a
    word of X unknown to them that no dictionary has either ("Merkel", "Mexico's"), not a
    common noun that may be another word for something they say ("farm lobby")."""
    frame = analysis.frame
    if frame is None or not frame.subject or frame.asks not in (ROLE, WORDS):
        return False
    from lemminflect import getAllLemmas

    unknown = set(result.unknown_tokens)
    for word in re.findall(r"[A-Za-z][\w'-]*", frame.subject):
        tokens = tokenize(word)
        if tokens and tokens[0] in unknown and tokens[0] not in CONVERSATIONAL:
            bare = re.sub(r"'s$", "", word.lower())
            if not getAllLemmas(bare):
                return True
    return False


def _frame_evidence(frame: QuestionFrame | None, top: list[Candidate]) -> dict[str, float]:
    if frame is None:
        return {
            "bound_missing": 0.0,
            "pred_missing": 0.0,
            "args_top": 1.0,
            "role_missing": 0.0,
            "words_missing": 0.0,
        }
    typed = frame.asks in (PERSON, DATE, AMOUNT, REASON)
    unsatisfied = not any(c.features["satisfies"] for c in top)
    return {
        "bound_missing": float(typed and not any(c.features["bound"] for c in top)),
        "pred_missing": float(
            frame.predicate is not None and not any(c.features["pred"] for c in top)
        ),
        "args_top": max((c.features["args"] for c in top), default=0.0) if frame.arguments else 1.0,
        "role_missing": float(
            frame.asks == ROLE and not any(c.features["role_parse"] for c in top)
        ),
        "words_missing": float(
            frame.asks == WORDS and not any(c.features["speaks_parse"] for c in top)
        ),
        "unsatisfied_about": float(unsatisfied and frame.asks in (ROLE, WORDS)),
        "unsatisfied_typed": float(unsatisfied and typed),
        "unsatisfied_event": float(unsatisfied and frame.asks == EVENT),
    }


def declined_by_rule(features: dict[str, float], min_cosine: float) -> bool:
    """The plain rules that decline whatever the model says: nothing is even close, or the
    question asks for the words or role of someone no article names. (A rule
    "names a thing no article mentions and no candidate holds half the rest of its focus"
    was measured too: +6-11 points of abstain recall on the test halves but false
    abstentions up from 0.04-0.05 to 0.06-0.07, so it is not used.)"""
    return features["max_cosine"] < min_cosine or bool(features["subject_unknown"])


def unanswerable_probability(
    features: dict[str, float], model: tuple[dict[str, float], float] | None = None
) -> float:
    coefficients, intercept = model or fitted_model()[:2]
    z = intercept + sum(coefficients.get(name, 0.0) * features[name] for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def _why(analysis: QuestionAnalysis, result: SearchResult, features: dict[str, float]) -> str:
    """The main reason, for logs and --json."""
    missing = unknown_focus(analysis, result)
    if features["unknown_name"] or features["unknown_thing"] or missing:
        names = _unknown_names(analysis, result) or unknown_things(analysis, result) or missing
        return f"not in any article: {', '.join(names)}"
    if features["type_missing"]:
        return f"no sentence near the topic gives what a {analysis.kind} question asks for"
    if features["scope_missing"]:
        return f"nothing dated {analysis.scope.label if analysis.scope else ''}"
    return f"weak evidence (best cosine {features['cosine']:.2f})"


def abstention_reason(
    analysis: QuestionAnalysis,
    result: SearchResult,
    candidates: list[Candidate],
    policy: AbstentionPolicy,
) -> str:
    """Why the articles don't answer, or "" when they do."""
    if not candidates:
        return "no articles"
    if not policy.enabled:
        return ""
    features = abstention_features(analysis, result, candidates)
    if features["subject_unknown"]:
        subject = analysis.frame.subject if analysis.frame else ""
        return f"no article names {subject}"
    if declined_by_rule(features, policy.min_cosine):
        return f"nothing close to the question (best cosine {features['max_cosine']:.2f})"
    threshold = policy.threshold if policy.threshold is not None else fitted_model()[2]
    p = unanswerable_probability(features, policy.model)
    if p > threshold:
        return f"{_why(analysis, result, features)}; p(unanswered) {p:.2f}"
    return ""
