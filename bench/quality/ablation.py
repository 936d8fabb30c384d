#!/usr/bin/env python3
"""Each answer-side choice switched off in turn, scored on the realistic sets' halves.

    .venv/bin/python -m bench.quality.ablation [--split test] [SET ...]

One engine per set (its articles ingested once); every variant changes only the question side
(how the sentences are scored and chosen, what the search is given, when to decline), so the
index is shared. Prints one row per variant and set with score.py's figures, and the mean of
the sets. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from bench.quality.run import ROOT, engine_for, known_sets

COLUMNS = ("R@1", "R@3", "MRR", "answer_hit", "false_abstain", "abstain_recall")


Variant = tuple[dict, Callable[[], contextlib.AbstractContextManager]]


def variants() -> dict[str, Variant]:
    """Name -> (changes to the engine's AnswerPolicy, a context that switches a module off)."""
    import retrieval.vocabulary as vocabulary
    import tradetalk.answer as answer
    from tradetalk.sentence_choice import FEATURES, fitted_weights

    def without(*names: str) -> dict[str, float]:
        return {n: (0.0 if n in names else w) for n, w in fitted_weights().items()}

    def none():
        return contextlib.nullcontext()

    cosine_only = {n: (1.0 if n == "cosine" else 0.0) for n in FEATURES}
    return {
        "TradeTalk (all)": ({}, none),
        "sentence cosine alone ranks sentences": ({"weights": cosine_only}, none),
        "one sentence per answer": ({"max_sentences": 1}, none),
        "no date scope (features, filter)": (
            {"weights": without("in_scope", "out_of_scope", "day"), "scope_filter": False},
            none,
        ),
        "no recency features": ({"weights": without("recency", "newest")}, none),
        "no answer-type features": ({"weights": without("typed", "role", "speaker")}, none),
        "passages in search order": (
            {},
            lambda: mock.patch.object(answer, "PASSAGE_SEARCH_WEIGHT", 1e6),
        ),
        "no chat idioms in plain words": (
            {},
            lambda: mock.patch.object(vocabulary, "_IDIOM_PATTERNS", []),
        ),
        "no demonym/capital/short-form vocabulary": (
            {},
            lambda: mock.patch.object(vocabulary, "_equivalents", dict),
        ),
        "never decline": ({"abstention": {"enabled": False}}, none),
        "decline on the cosine floor only": ({"abstention": {"threshold": 1.0}}, none),
    }


def policy_with(base, changes: dict):
    """`base` (an AnswerPolicy) with `changes`; "abstention" changes its fields."""
    from dataclasses import replace

    rest = {k: v for k, v in changes.items() if k != "abstention"}
    if "abstention" in changes:
        rest["abstention"] = replace(base.abstention, **changes["abstention"])
    return replace(base, **rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*")
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from tradetalk.evaluate import judge, load_questions, metrics
    from tradetalk.render import reply_json

    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    chosen = [
        s
        for s in known_sets()
        if (not args.sets or s.name in args.sets) and s.name not in ("seed", "fixtures", "heldout")
    ]
    print(f"{'variant':44} {'set':10} " + " ".join(f"{c:>14}" for c in COLUMNS))
    with tempfile.TemporaryDirectory() as tmp:
        engines = {qs.name: engine_for(qs, encoder, Path(tmp)) for qs in chosen}
        defaults = {n: e.answer_policy for n, e in engines.items()}
        for name, (changes, context) in variants().items():
            rows = []
            for qs in chosen:
                engine = engines[qs.name]
                engine.answer_policy = policy_with(defaults[qs.name], changes)
                items = [i for i in load_questions(qs.questions) if i.split == args.split]
                with context():
                    outcomes = []
                    for item in items:
                        outcomes.append(judge(item, reply_json(engine.ask, item.question)))
                engine.answer_policy = defaults[qs.name]
                figures = metrics(outcomes)
                rows.append(figures)
                cells = " ".join(f"{figures[c]:>14}" for c in COLUMNS)
                print(f"{name:44} {qs.name:10} {cells}")
            if len(rows) > 1:
                mean = {c: round(sum(r[c] for r in rows) / len(rows), 3) for c in COLUMNS}
                print(f"{name:44} {'mean':10} " + " ".join(f"{mean[c]:>14}" for c in COLUMNS))
        for engine in engines.values():
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
