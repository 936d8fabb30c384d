#!/usr/bin/env python3
"""Score every question set in one process: the seed questions, the committed test fixtures,
and each realistic set in bench/quality/<name>/ whose articles are present, by split and kind.

    .venv/bin/python -m bench.quality.run [SET ...] [--split tune] [--misses] [--kinds]

The figures are score.py's (tradetalk.evaluate implements the same rule); the before-stop hook
scores the same sets through the CLI. One model load serves every set; each set gets a fresh
data dir, built the way `tradetalk ingest` builds it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUALITY = ROOT / "bench" / "quality"
SHARED_SEED = ROOT.parent / "shared" / "eval" / "seed_questions.jsonl"
VENDORED_SEED = ROOT / "tests" / "fixtures" / "eval" / "seed_questions.jsonl"


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: Path
    articles: Path | None  # None: the bundled corpus alone
    bundled: bool = True


def known_sets() -> list[QuestionSet]:
    seed = SHARED_SEED if SHARED_SEED.exists() else VENDORED_SEED
    sets = [
        QuestionSet("seed", seed, None),
        QuestionSet(
            "fixtures",
            ROOT / "tests/fixtures/eval/multi_questions.jsonl",
            ROOT / "tests/fixtures/articles",
            bundled=False,
        ),
        QuestionSet(
            "heldout",
            ROOT / "tests/fixtures/heldout/questions.jsonl",
            ROOT / "tests/fixtures/heldout/articles",
            bundled=False,
        ),
    ]
    for questions in sorted(QUALITY.glob("*/questions.jsonl")):
        articles = questions.parent / "articles"
        if any(articles.glob("*")):
            sets.append(QuestionSet(questions.parent.name, questions, articles))
        elif bundled_only(questions.parent):
            sets.append(QuestionSet(questions.parent.name, questions, None))
    return sets


def bundled_only(set_dir: Path) -> bool:
    """A set about the bundled article alone (set.json: {"articles": "bundled"})."""
    try:
        return json.loads((set_dir / "set.json").read_text())["articles"] == "bundled"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def engine_for(qs: QuestionSet, encoder, work: Path):
    from config.settings import Settings
    from corpus.articles import SUFFIXES, read_article
    from tradetalk.engine import Engine

    overrides = {}
    if not qs.bundled:
        (work / "none").mkdir(exist_ok=True)
        overrides["bundled_dir"] = work / "none"
    engine = Engine(Settings(data_dir=work / qs.name, **overrides), encoder=encoder)
    engine.open()
    if qs.articles:
        paths = sorted(p for p in qs.articles.iterdir() if p.suffix.lower() in SUFFIXES)
        engine.ingest_articles([read_article(p, max_bytes=2_000_000) for p in paths])
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", help="set names (default: all present)")
    parser.add_argument("--split", choices=("tune", "test"), help="only this split")
    parser.add_argument("--misses", action="store_true", help="list what went wrong")
    parser.add_argument("--kinds", action="store_true", help="figures by question kind")
    parser.add_argument("--json", action="store_true", help="one JSON line per set and split")
    parser.add_argument(
        "--never-abstain", action="store_true", help="answer everything (selection alone)"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from config.settings import Settings
    from retrieval.encoder import load_encoder
    from tradetalk.evaluate import by_kind, judge, load_questions, metrics, misses
    from tradetalk.render import reply_json

    chosen = [s for s in known_sets() if not args.sets or s.name in args.sets]
    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    columns = ("R@1", "R@3", "MRR", "answer_hit", "false_abstain", "abstain_recall")
    print(f"{'set':18} {'split':5} {'n':>4} " + " ".join(f"{c:>14}" for c in columns))
    with tempfile.TemporaryDirectory() as tmp:
        for qs in chosen:
            engine = engine_for(qs, encoder, Path(tmp))
            overrides = json.loads(os.environ.get("TRADETALK_ANSWER_POLICY", "{}"))
            if args.never_abstain or overrides:
                from tradetalk.abstention import AbstentionPolicy
                from tradetalk.answer import AnswerPolicy

                abstain = {k[8:]: v for k, v in overrides.items() if k.startswith("abstain.")}
                rest = {k: v for k, v in overrides.items() if not k.startswith("abstain.")}
                engine.answer_policy = AnswerPolicy(
                    abstention=AbstentionPolicy(enabled=not args.never_abstain, **abstain), **rest
                )
            items = load_questions(qs.questions)
            splits = sorted({i.split for i in items}) if any(i.split for i in items) else [""]
            for split in splits:
                if args.split and split and split != args.split:
                    continue
                group = [i for i in items if i.split == split]
                outcomes = []
                for item in group:
                    outcomes.append(judge(item, reply_json(engine.ask, item.question)))
                figures = metrics(outcomes)
                if args.json:
                    print(json.dumps({"set": qs.name, "split": split or "-", **figures}))
                    continue
                row = " ".join(f"{figures[c]:>14}" for c in columns)
                print(f"{qs.name:18} {split or '-':5} {len(group):>4} {row}")
                if args.kinds:
                    for kind, f in by_kind(outcomes).items():
                        cells = " ".join(f"{f[c]:>14}" for c in columns)
                        n = f["answerable"] + f["unanswerable"]
                        print(f"{'  ' + kind:18} {'':5} {n:>4} {cells}")
                if args.misses:
                    for line in misses(outcomes):
                        print("    " + line)
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
