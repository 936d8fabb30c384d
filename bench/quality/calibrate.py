#!/usr/bin/env python3
"""Fit the abstention model (tradetalk/answer_weights.json, "abstention") on the tune halves
and print its trade-off curve.

    .venv/bin/python -m bench.quality.calibrate [--write] [--c 1.0] [--max-false 0.03]

Every tune question (the realistic sets' tune halves, the seed questions and the committed
multi-article fixtures) is answered by the current pipeline; the features of its evidence
(tradetalk.abstention.FEATURES) and whether it is answerable train a logistic model of "the
articles don't answer this". The threshold is the lowest that keeps the tune false-abstention
rate at or under --max-false. `--curve` prints false_abstain against abstain_recall for a
range of thresholds, on the tune questions (pass --split test for the report of the other half).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.quality.fit import TRAIN_SETS
from bench.quality.run import ROOT, engine_for, known_sets


def collect(encoder, tmp: Path, split: str):
    from retrieval.question_analysis import analyze_question
    from tradetalk.abstention import FEATURES, abstention_features
    from tradetalk.engine import CANDIDATE_PASSAGES
    from tradetalk.evaluate import load_questions
    from tradetalk.sentence_choice import score_candidates

    rows = []
    for qs in known_sets():
        items = load_questions(qs.questions)
        if qs.name in TRAIN_SETS:
            if split != "tune":
                continue
        elif not any(i.split for i in items):
            continue
        else:
            items = [i for i in items if i.split == split]
        engine = engine_for(qs, encoder, tmp)
        for item in items:
            analysis = analyze_question(item.question, years=engine._years())
            result = engine.search(item.question, CANDIDATE_PASSAGES)
            candidates = score_candidates(result, analysis)
            if not candidates:
                continue
            f = abstention_features(analysis, result, candidates)
            rows.append(
                (f"{qs.name}:{item.id}", [f[n] for n in FEATURES], not item.evidence, item.kind)
            )
        engine.close()
    return rows


def curve(
    p: np.ndarray, y: np.ndarray, thresholds, ruled: np.ndarray | None = None
) -> list[tuple[float, float, float]]:
    """(threshold, false_abstain, abstain_recall) when declining p > threshold, or where the
    plain rules decline (`ruled`)."""
    out = []
    for t in thresholds:
        declined = (p > t) | (ruled if ruled is not None else False)
        false = declined[~y].mean() if (~y).any() else 0.0
        recall = declined[y].mean() if y.any() else 0.0
        out.append((t, float(false), float(recall)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--max-false", type=float, default=0.03)
    parser.add_argument("--split", default="tune", help="score this split with the fitted model")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sklearn.linear_model import LogisticRegression

    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from tradetalk.abstention import FEATURES, declined_by_rule, fitted_model
    from tradetalk.sentence_choice import WEIGHTS_FILE

    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    with tempfile.TemporaryDirectory() as tmp:
        rows = collect(encoder, Path(tmp), args.split)
    x = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows])
    min_cosine = Settings().abstain_threshold  # the setting's default
    ruled = np.array(
        [declined_by_rule(dict(zip(FEATURES, r[1], strict=True)), min_cosine) for r in rows]
    )
    print(f"{len(rows)} {args.split} questions, {int(y.sum())} unanswerable")
    thresholds = [round(t, 2) for t in np.arange(0.05, 0.96, 0.05)]
    if args.split != "tune":  # report the fitted model on another split, fit nothing
        coefficients, intercept, threshold = fitted_model()
        z = intercept + x @ np.array([coefficients[n] for n in FEATURES])
        p = 1 / (1 + np.exp(-z))
        print(f"threshold {threshold}")
        for t, false, recall in curve(p, y, thresholds, ruled):
            print(f"  p > {t:.2f}: false_abstain {false:.3f}  abstain_recall {recall:.3f}")
        return 0
    model = LogisticRegression(C=args.c, max_iter=5000, class_weight="balanced")
    model.fit(x, y)
    p = model.predict_proba(x)[:, 1]
    points = curve(p, y, thresholds, ruled)
    for t, false, recall in points:
        print(f"  p > {t:.2f}: false_abstain {false:.3f}  abstain_recall {recall:.3f}")
    threshold = min((t for t, false, _ in points if false <= args.max_false), default=0.95)
    print(f"chosen threshold {threshold} (tune false_abstain <= {args.max_false})")
    for name, value in zip(FEATURES, model.coef_[0], strict=True):
        print(f"  {name:16} {value:+.3f}")
    print(f"  intercept        {model.intercept_[0]:+.3f}")
    declined = (p > threshold) | ruled
    for qid, _, unanswerable, kind in [r for r, d in zip(rows, declined, strict=True) if d]:
        if not unanswerable:
            print(f"  would decline answerable {qid} [{kind}]")
    if args.write:
        data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        data["abstention"] = {
            "note": (
                f"Fitted by bench/quality/calibrate.py (logistic, C={args.c}, balanced) on "
                f"{len(rows)} tune questions ({int(y.sum())} unanswerable); threshold: the lowest "
                f"with tune false_abstain <= {args.max_false}."
            ),
            "coefficients": {
                n: round(float(v), 4) for n, v in zip(FEATURES, model.coef_[0], strict=True)
            },
            "intercept": round(float(model.intercept_[0]), 4),
            "threshold": threshold,
        }
        WEIGHTS_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
