#!/usr/bin/env python3
"""Leave-one-negotiation-out: fit every learned weight on all sets but one negotiation, score
the one left out, for each negotiation in turn; then (``--write``) fit on all of them.

    .venv/bin/python -m bench.quality.loo [--write] [--show-misses SET] [--json]

What is fitted per fold (nothing is read from the left-out negotiation):
  * the sentence ranker's weights (`tradetalk.sentence_choice.FEATURES`): a pairwise logistic
    ranker over every candidate sentence of the training questions, labelled by whether it
    holds an evidence string;
  * the decline model (`tradetalk.abstention.FEATURES`): a logistic model of "the articles don't
    answer", over the training questions' evidence under those weights;
  * its threshold: the lowest whose false abstention, on probabilities each training
    negotiation got from a model fitted without it (out of fold), stays at or under
    ``--max-false``.
The left-out negotiation is then answered with `compose_answer` under that fold's weights and
model, exactly as the CLI answers, and scored by score.py's rule (`tradetalk.evaluate`).

Sets of one negotiation are left out together: the seed questions, their paraphrases and the
committed NAFTA fixtures are one ("nafta"); the committed U.S.-China held-out fixtures go with
the U.S.-China set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.quality.run import ROOT, QuestionSet, engine_for, known_sets

GROUP_OF = {
    "seed": "nafta",
    "seed-paraphrases": "nafta",
    "fixtures": "nafta",
    "heldout": "us-china",
}
COLUMNS = ("R@1", "R@3", "MRR", "answer_hit", "false_abstain", "abstain_recall")
RANKER_C = 1.0
ABSTENTION_C = 0.3
MAX_FALSE = 0.03
MIN_COSINE = 0.22  # TRADETALK_ABSTAIN_THRESHOLD's default


def group_of(name: str) -> str:
    return GROUP_OF.get(name, name)


@dataclass
class Asked:
    """One question of one set, read and searched once (weights change, the search doesn't)."""

    set: str
    group: str
    item: object  # tradetalk.evaluate.EvalItem
    analysis: object  # QuestionAnalysis
    result: object  # SearchResult
    error: str | None = None  # a question the engine refuses (gibberish, empty)
    cache: dict = field(default_factory=dict)
    years: range | None = None  # the years its library covers

    @property
    def answerable(self) -> bool:
        return bool(self.item.evidence)


@dataclass(frozen=True)
class Fitted:
    weights: dict[str, float]
    model: tuple[dict[str, float], float]
    threshold: float

    def policy(self, **changes):
        from tradetalk.abstention import AbstentionPolicy
        from tradetalk.answer import AnswerPolicy

        abstention = AbstentionPolicy(
            threshold=self.threshold, min_cosine=MIN_COSINE, model=self.model
        )
        return AnswerPolicy(weights=self.weights, abstention=abstention, **changes)


def ask_all(sets: list[QuestionSet], encoder, work: Path) -> list[Asked]:
    from tradetalk.engine import CANDIDATE_PASSAGES
    from tradetalk.errors import QuestionError
    from tradetalk.evaluate import load_questions

    asked = []
    for qs in sets:
        engine = engine_for(qs, encoder, work)
        for item in load_questions(qs.questions):
            try:
                text = engine.check(item.question)
            except QuestionError as exc:
                asked.append(Asked(qs.name, group_of(qs.name), item, None, None, str(exc)))
                continue
            analysis = engine.analyse(text)
            result = engine.search(text, CANDIDATE_PASSAGES)
            asked.append(
                Asked(qs.name, group_of(qs.name), item, analysis, result, years=engine._years())
            )
        engine.close()
    return asked


def _labelled(asked: Asked):
    """(feature matrix, labels) of every candidate sentence of an answerable question."""
    from tradetalk.evaluate import norm
    from tradetalk.sentence_choice import FEATURES, candidate_features

    if "labelled" not in asked.cache:
        rows = candidate_features(asked.result, asked.analysis)
        evidence = [norm(e) for e in asked.item.evidence]
        x = np.array([[f[n] for n in FEATURES] for _, _, f in rows], np.float64)
        y = np.array([any(e in norm(h.sentences[i].text) for e in evidence) for h, i, _ in rows])
        asked.cache["labelled"] = (x.reshape(-1, len(FEATURES)), y.astype(bool))
    return asked.cache["labelled"]


def fit_ranker(
    train: list[Asked], c: float = RANKER_C, seed: int = 0, exclude: frozenset[str] = frozenset()
) -> dict[str, float]:
    """The ranker's weights; features in `exclude` are left out (weight 0)."""
    from sklearn.linear_model import LogisticRegression

    from tradetalk.sentence_choice import FEATURES

    keep = np.array([n not in exclude for n in FEATURES])

    rng = random.Random(seed)
    diffs = []
    for asked in train:
        if asked.error or not asked.answerable:
            continue
        x, y = _labelled(asked)
        pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
        if not len(pos) or not len(neg):
            continue
        for p in pos:
            for n in rng.sample(list(neg), min(len(neg), 40)):
                diffs.append((x[p] - x[n]) * keep)
    d = np.array(diffs)
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(np.vstack([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))]))
    w = model.coef_[0]
    scale = w[FEATURES.index("cosine")]
    # On the cosine's scale, as the answer's margins are; a ranker that gives the cosine next
    # to nothing is scaled by its overall size instead.
    if scale < 0.1 * np.abs(w).max():
        scale = np.abs(w).max()
    return {n: float(v / scale) for n, v in zip(FEATURES, w, strict=True)}


def _abstention_rows(
    train: list[Asked], weights: dict[str, float], exclude: frozenset[str] = frozenset()
):
    from tradetalk.abstention import FEATURES, abstention_features, declined_by_rule
    from tradetalk.sentence_choice import score_candidates

    xs, ys, groups = [], [], []
    for asked in train:
        if asked.error:
            continue
        candidates = score_candidates(asked.result, asked.analysis, weights)
        if not candidates:
            continue
        f = abstention_features(asked.analysis, asked.result, candidates)
        if declined_by_rule(f, MIN_COSINE):
            continue  # declined by a plain rule whatever the model says
        xs.append([0.0 if n in exclude else f[n] for n in FEATURES])
        ys.append(not asked.answerable)
        groups.append(asked.group)
    return np.array(xs), np.array(ys, bool), np.array(groups)


def _logistic(x, y, c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(x, y)
    return model


def fit_abstention(
    train: list[Asked],
    weights: dict[str, float],
    c: float = ABSTENTION_C,
    max_false: float = MAX_FALSE,
    exclude: frozenset[str] = frozenset(),
) -> tuple[tuple[dict[str, float], float], float]:
    from tradetalk.abstention import FEATURES

    x, y, groups = _abstention_rows(train, weights, exclude)
    model = _logistic(x, y, c)
    # The threshold from out-of-fold probabilities: each training negotiation scored by a
    # model that never saw it, as the left-out one will be.
    oof = np.zeros(len(y))
    for g in sorted(set(groups)):
        inside = groups != g
        if y[inside].all() or not y[inside].any():
            oof[~inside] = model.predict_proba(x[~inside])[:, 1]
            continue
        oof[~inside] = _logistic(x[inside], y[inside], c).predict_proba(x[~inside])[:, 1]
    threshold = 0.99
    for t in np.arange(0.30, 0.99, 0.01):
        if (oof[~y] > t).mean() <= max_false:
            threshold = float(round(t, 2))
            break
    coefficients = {n: float(v) for n, v in zip(FEATURES, model.coef_[0], strict=True)}
    return (coefficients, float(model.intercept_[0])), threshold


def fit(train: list[Asked], **options) -> Fitted:
    """Everything learned, on `train`. Options: ``ranker_c``, ``abstention_c``, ``max_false``,
    and ``ranker_exclude`` / ``abstention_exclude`` (features left out, for the ablation)."""
    weights = fit_ranker(
        train,
        options.get("ranker_c", RANKER_C),
        exclude=frozenset(options.get("ranker_exclude", ())),
    )
    model, threshold = fit_abstention(
        train,
        weights,
        options.get("abstention_c", ABSTENTION_C),
        options.get("max_false", MAX_FALSE),
        exclude=frozenset(options.get("abstention_exclude", DECLINE_LEFT_OUT)),
    )
    return Fitted(weights, model, threshold)


def answer_all(asked: list[Asked], policy) -> list:
    """score.py's outcome of each question, answered as the CLI would under `policy`."""
    from tradetalk.answer import compose_answer
    from tradetalk.evaluate import judge
    from tradetalk.render import answer_json

    outcomes = []
    for a in asked:
        if a.error:
            reply = {"answer": a.error, "abstained": True, "passages": []}
        else:
            reply = answer_json(compose_answer(a.result, a.analysis, policy))
        outcomes.append(judge(a.item, reply))
    return outcomes


def leave_one_out(
    asked: list[Asked], fitter: Callable[[list[Asked]], Fitted] = fit, **policy_changes
) -> dict[str, list]:
    """Each set's outcomes with everything fitted without its negotiation."""
    out: dict[str, list] = {}
    for group in sorted({a.group for a in asked}):
        fitted = fitter([a for a in asked if a.group != group])
        for name in sorted({a.set for a in asked if a.group == group}):
            out[name] = answer_all(
                [a for a in asked if a.set == name], fitted.policy(**policy_changes)
            )
    return out


# The decline model's features read from the parse (tradetalk.abstention).
PARSE_DECLINE = (
    "bound_missing",
    "pred_missing",
    "args_top",
    "role_missing",
    "words_missing",
    "unsatisfied_about",
    "unsatisfied_typed",
    "unsatisfied_event",
)


# Left out of the shipped decline model: none. Leaving one negotiation out, the model without the
# parse checks scored within a point of it (false abstention .046 vs .053, abstain recall .443 vs
# .434, --ablation), but that model answers an off-topic question the fixture tests decline
# ("who won the stanley cup in 2018?"), so the parse checks stay.
DECLINE_LEFT_OUT: tuple[str, ...] = ()


def _without_headlines(asked: list[Asked]) -> list[Asked]:
    """The same searches with every headline passage dropped from the candidates."""
    from dataclasses import replace

    from corpus.passages import HEADLINE

    out = []
    for a in asked:
        result = a.result
        if not a.error:
            hits = tuple(h for h in result.hits if h.record.paragraph != HEADLINE)
            result = replace(result, hits=hits)
        out.append(Asked(a.set, a.group, a.item, a.analysis, result, a.error))
    return out


def _without_truecasing(asked: list[Asked]) -> list[Asked]:
    """The questions parsed as typed (no capitals from the articles' proper names)."""
    from retrieval.question_analysis import analyze_question

    out = []
    for a in asked:
        analysis = a.analysis
        if not a.error and analysis.frame is not None:
            again = analyze_question(analysis.question, years=a.years)
            analysis = replace_frame(analysis, again.frame)
        out.append(Asked(a.set, a.group, a.item, analysis, a.result, a.error, years=a.years))
    return out


def replace_frame(analysis, frame):
    from dataclasses import replace

    return replace(analysis, frame=frame)


def ablation(asked: list[Asked]) -> dict[str, dict[str, float]]:
    """Each of this round's choices taken out in turn, everything refitted leaving one
    negotiation out; the mean over the sets of each variant."""
    from tradetalk.evaluate import metrics
    from tradetalk.sentence_choice import CHECKS

    variants: dict[str, tuple[list[Asked], dict, dict]] = {
        "TradeTalk (all)": (asked, {}, {}),
        "no parse checks in the ranker": (asked, {"ranker_exclude": CHECKS}, {}),
        "no parse checks in the decline model": (
            asked,
            {"abstention_exclude": PARSE_DECLINE},
            {},
        ),
        "no parse checks at all": (
            asked,
            {"ranker_exclude": CHECKS, "abstention_exclude": PARSE_DECLINE},
            {},
        ),
        "no headline passages": (
            _without_headlines(asked),
            {"ranker_exclude": ("headline",)},
            {},
        ),
        "questions parsed as typed (no truecasing)": (_without_truecasing(asked), {}, {}),
    }
    table = {}
    for name, (questions, options, changes) in variants.items():
        by_set = leave_one_out(questions, lambda train, o=options: fit(train, **o), **changes)
        rows = [metrics(outcomes) for outcomes in by_set.values()]
        table[name] = {c: round(sum(r[c] for r in rows) / len(rows), 3) for c in COLUMNS}
        print(f"{name:44} " + " ".join(f"{table[name][c]:>14}" for c in COLUMNS), flush=True)
    return table


def print_table(title: str, by_set: dict[str, list], as_json: bool = False) -> dict:
    from tradetalk.evaluate import metrics

    print(f"\n{title}")
    print(f"{'set':18} {'n':>4} " + " ".join(f"{c:>14}" for c in COLUMNS))
    table = {}
    for name, outcomes in by_set.items():
        figures = metrics(outcomes)
        table[name] = figures
        if as_json:
            print(json.dumps({"set": name, **figures}))
            continue
        row = " ".join(f"{figures[c]:>14}" for c in COLUMNS)
        print(f"{name:18} {len(outcomes):>4} {row}")
    return table


def load(sets: list[str] | None = None) -> list[Asked]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder

    chosen = [s for s in known_sets() if not sets or s.name in sets]
    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    with tempfile.TemporaryDirectory() as tmp:
        return ask_all(chosen, encoder, Path(tmp))


def write_fitted(fitted: Fitted, asked: list[Asked]) -> None:
    from tradetalk.sentence_choice import WEIGHTS_FILE

    sets = sorted({a.set for a in asked})
    n = sum(not a.error for a in asked)
    unanswerable = sum(not a.error and not a.answerable for a in asked)
    coefficients, intercept = fitted.model
    payload = {
        "note": (
            f"Fitted by bench/quality/loo.py --write (pairwise logistic ranker, C={RANKER_C:g}) "
            f"on every development set ({', '.join(sets)}); scaled so the cosine's weight is 1."
        ),
        "weights": {k: round(v, 4) for k, v in fitted.weights.items()},
        "abstention": {
            "note": (
                f"Fitted by bench/quality/loo.py --write (logistic, C={ABSTENTION_C}, balanced) "
                f"on {n} questions ({unanswerable} unanswerable); threshold: the lowest whose "
                f"out-of-fold false abstention (each negotiation scored by a model fitted "
                f"without it) is at most {MAX_FALSE}."
            ),
            "coefficients": {k: round(v, 4) for k, v in coefficients.items()},
            "intercept": round(intercept, 4),
            "threshold": fitted.threshold,
        },
    }
    WEIGHTS_FILE.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS_FILE}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", help="set names (default: every set present)")
    parser.add_argument("--write", action="store_true", help="fit on all and write the weights")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list each set's misses")
    parser.add_argument(
        "--ablation", action="store_true", help="each of this round's choices taken out in turn"
    )
    args = parser.parse_args(argv)
    asked = load(args.sets)
    from tradetalk.evaluate import misses

    loo = leave_one_out(asked)
    print_table("leave-one-negotiation-out", loo, args.json)
    if args.misses:
        for name, outcomes in loo.items():
            print(f"\n{name}")
            for line in misses(outcomes):
                print("    " + line)
    if args.ablation:
        print(f"\n{'variant (mean of the sets)':44} " + " ".join(f"{c:>14}" for c in COLUMNS))
        ablation(asked)
    if args.write:
        fitted = fit(asked)
        write_fitted(fitted, asked)
        print(f"threshold {fitted.threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
