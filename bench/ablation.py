"""Retrieval ablation on the development questions: each choice with and without.

    .venv/bin/python bench/ablation.py            # prints a Markdown table

Seed questions run on the bundled article alone; the fixture questions on the seven fixture
articles alone (each question set against the corpus it was written for). Index-time choices
(relative dates spelled out, titles in BM25) are switched off by patching the one function that
implements them, so every variant runs the production code path otherwise."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import retrieval.build as build_module  # noqa: E402
import retrieval.index as index_module  # noqa: E402
import retrieval.search as search_module  # noqa: E402
import retrieval.text as text_module  # noqa: E402
from config.settings import Settings  # noqa: E402
from corpus.normalize import normalize_for_search  # noqa: E402
from retrieval.encoder_loading import load_encoder  # noqa: E402
from retrieval.search import ScoringWeights  # noqa: E402
from retrieval.tokenize import tokenize  # noqa: E402
from tradetalk.engine import Engine  # noqa: E402
from tradetalk.errors import QuestionError  # noqa: E402
from tradetalk.evaluate import load_questions, score  # noqa: E402
from tradetalk.render import answer_json  # noqa: E402

SEED_Q = ROOT.parent / "shared" / "eval" / "seed_questions.jsonl"
FIXTURE_Q = ROOT / "tests" / "fixtures" / "eval" / "multi_questions.jsonl"
FIXTURES = ROOT / "tests" / "fixtures" / "articles"


@contextlib.contextmanager
def patched(obj: object, name: str, value: object) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def engine(fixtures: bool) -> Engine:
    root = Path(tempfile.mkdtemp())
    (root / "none").mkdir()
    settings = Settings(data_dir=root / "data", bundled_dir=None if not fixtures else root / "none")
    built = Engine(settings, encoder=load_encoder())
    built.open()
    if fixtures:
        for path in sorted(FIXTURES.iterdir()):
            built.ingest_path(path)
    return built


def run(weights: ScoringWeights) -> dict[str, dict]:
    results = {}
    for name, fixtures, questions in (("seed", False, SEED_Q), ("fixtures", True, FIXTURE_Q)):
        eng = engine(fixtures)

        def reply(q: str, eng: Engine = eng) -> dict:
            try:
                return answer_json(eng.ask(q))
            except QuestionError as exc:
                return {"answer": str(exc), "abstained": True, "passages": []}

        with patched(search_module, "ScoringWeights", lambda: weights):
            metrics = score(load_questions(questions), reply)
        metrics.pop("misses")
        results[name] = metrics
    return results


def main() -> None:
    base = ScoringWeights()
    variants: list[tuple[str, ScoringWeights, list]] = [
        ("dense passage only", ScoringWeights(1.0, 0.0, 0.0), []),
        ("BM25 only", ScoringWeights(0.0, 0.0, 1.0), []),
        ("passage + BM25 (no sentence scoring)", ScoringWeights(0.5, 0.0, 0.5), []),
        ("passage + sentence (no BM25)", ScoringWeights(0.4, 0.6, 0.0), []),
        (
            "no relative dates spelled out",
            base,
            [
                (build_module, "search_text", lambda text, date: normalize_for_search(text)),
                (text_module, "search_text", lambda text, date: normalize_for_search(text)),
            ],
        ),
        (
            "no article title in BM25",
            base,
            [
                (
                    index_module,
                    "passage_terms",
                    lambda text, date, title: tokenize(text_module.search_text(text, date)),
                )
            ],
        ),
        ("TradeTalk (all of the above)", base, []),
    ]
    print(
        "| variant | seed R@1 | R@3 | MRR | answer hit "
        "| fixtures R@1 | R@3 | R@5 | MRR | answer hit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, weights, patches in variants:
        with contextlib.ExitStack() as stack:
            for obj, name, value in patches:
                stack.enter_context(patched(obj, name, value))
            r = run(weights)
        s, f = r["seed"], r["fixtures"]
        row = [label, s["R@1"], s["R@3"], s["MRR"], s["answer_hit"]]
        row += [f["R@1"], f["R@3"], f["R@5"], f["MRR"], f["answer_hit"]]
        print("| " + " | ".join(str(x) for x in row) + " |", flush=True)


if __name__ == "__main__":
    main()
