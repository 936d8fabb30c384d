#!/usr/bin/env python3
"""Fit the answer-sentence weights (tradetalk/answer_weights.json) on the tune halves.

    .venv/bin/python -m bench.quality.fit [--write] [--c 1.0]

For every answerable tune question (the realistic sets' tune halves plus the seed questions
and the committed multi-article fixtures), each candidate sentence is labelled by whether it
holds an evidence string. A pairwise logistic ranker (RankNet's objective, linear) learns
weights under which answering sentences outscore the others of the same question. It prints
the share of tune questions whose top sentence (and top three) answer, before and after; the
test halves are never read here.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.quality.run import ROOT, engine_for, known_sets

TRAIN_SETS = ("seed", "fixtures")  # plus every realistic set's tune half


def collect(encoder, tmp: Path):
    """(question id, feature matrix, labels) for every answerable tune question."""
    from retrieval.question_analysis import analyze_question
    from tradetalk.engine import CANDIDATE_PASSAGES
    from tradetalk.evaluate import load_questions, norm
    from tradetalk.sentence_choice import FEATURES, candidate_features

    groups = []
    for qs in known_sets():
        items = load_questions(qs.questions)
        if qs.name not in TRAIN_SETS:
            if not any(i.split for i in items) or qs.name == "heldout":
                continue
            items = [i for i in items if i.split == "tune"]
        engine = engine_for(qs, encoder, tmp)
        for item in items:
            if not item.evidence:
                continue
            analysis = analyze_question(item.question, years=engine._years())
            result = engine.search(item.question, CANDIDATE_PASSAGES)
            rows = candidate_features(result, analysis)
            if not rows:
                continue
            evidence = [norm(e) for e in item.evidence]
            x = np.array([[f[name] for name in FEATURES] for _, _, f in rows], np.float64)
            y = np.array(
                [any(e in norm(hit.sentences[i].text) for e in evidence) for hit, i, _ in rows]
            )
            groups.append((f"{qs.name}:{item.id}", x, y))
        engine.close()
    return groups


def top_hits(groups, w: np.ndarray) -> tuple[float, float]:
    one = three = 0
    for _, x, y in groups:
        order = np.argsort(-(x @ w), kind="stable")
        one += bool(y[order[0]])
        three += bool(y[order[:3]].any())
    return one / len(groups), three / len(groups)


def fit(groups, c: float, seed: int = 0) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    rng = random.Random(seed)
    diffs = []
    for _, x, y in groups:
        pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
        if not len(pos) or not len(neg):
            continue
        for p in pos:
            for n in rng.sample(list(neg), min(len(neg), 40)):
                diffs.append(x[p] - x[n])
    d = np.array(diffs)
    xs = np.vstack([d, -d])
    ys = np.concatenate([np.ones(len(d)), np.zeros(len(d))])
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(xs, ys)
    return model.coef_[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write answer_weights.json")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from tradetalk.sentence_choice import FEATURES, WEIGHTS_FILE, fitted_weights

    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    with tempfile.TemporaryDirectory() as tmp:
        groups = collect(encoder, Path(tmp))
    reachable = [g for g in groups if g[2].any()]
    print(f"{len(groups)} answerable tune questions, {len(reachable)} with evidence in the pool")
    current = np.array([fitted_weights()[n] for n in FEATURES])
    print("current weights: top-1 {:.3f}, top-3 {:.3f} (of all)".format(*top_hits(groups, current)))
    w = fit(reachable, args.c)
    w = w / w[FEATURES.index("cosine")]  # on the cosine's scale, as the margins are
    print("fitted weights:  top-1 {:.3f}, top-3 {:.3f} (of all)".format(*top_hits(groups, w)))
    for name, value in zip(FEATURES, w, strict=True):
        print(f"  {name:16} {value:+.3f}")
    if args.write:
        payload = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        payload |= {
            "note": (
                f"Fitted by bench/quality/fit.py (pairwise logistic ranker, C={args.c:g}) on "
                f"{len(groups)} answerable tune questions; scaled so the cosine's weight is 1."
            ),
            "weights": {n: round(float(v), 4) for n, v in zip(FEATURES, w, strict=True)},
        }
        WEIGHTS_FILE.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
