#!/usr/bin/env python3
"""What reading the question and checking the sentences cost, on a real development set.

    .venv/bin/python -m bench.quality.speed [SET] [--rounds 3]

One process, ONNX encoder. On SET's articles (default us-china; every sentence carries its
stored parse, unlike the synthetic scale corpora of `python -m bench`), for every question of
the set it measures the floor (encoding the question alone), a whole answer (`Engine.ask`), and
inside it the question's parse and the candidates' parse checks; then one article's ingest
against embedding that article's texts alone. Prints the figures and their ratios. Asserts
nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.quality.run import ROOT, engine_for, known_sets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", nargs="?", default="us-china")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    import tradetalk.answer_checks as checks
    from config.settings import Settings
    from corpus.articles import read_article
    from corpus.parsing import parse_one
    from corpus.passages import split_passages
    from retrieval.encoder_loading import load_encoder
    from retrieval.search import prepare_query
    from retrieval.text import search_text
    from tradetalk.evaluate import load_questions

    qs = next(s for s in known_sets() if s.name == args.set)
    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    questions = [i.question for i in load_questions(qs.questions)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for(qs, encoder, Path(tmp))
        for q in questions[:10]:  # warm up: caches, the pipeline, ONNX's first runs
            engine.ask(q)
        floor, answer, parse, check = [], [], [], []
        spent = {"checks": 0.0}
        inner = checks.frame_features

        def timed(*a, **k):
            started = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                spent["checks"] += time.perf_counter() - started

        checks_module_users = [sys.modules["tradetalk.sentence_choice"]]
        for module in checks_module_users:
            module.frame_features = timed
        try:
            for _ in range(args.rounds):
                for q in questions:
                    started = time.perf_counter()
                    encoder.encode([prepare_query(q)])
                    floor.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    parse_one(q)
                    parse.append(time.perf_counter() - started)
                    spent["checks"] = 0.0
                    started = time.perf_counter()
                    with contextlib.suppress(Exception):  # a refused one costs its check too
                        engine.ask(q)
                    answer.append(time.perf_counter() - started)
                    check.append(spent["checks"])
        finally:
            for module in checks_module_users:
                module.frame_features = inner

        # One article's ingest against embedding its passages and sentences alone.
        paths = sorted(qs.articles.iterdir())
        article = read_article(paths[len(paths) // 2], max_bytes=2_000_000)
        texts = []
        for passage in split_passages(article):
            texts.append(search_text(passage.text, article.date))
            texts += [search_text(s, article.date) for s in passage.sentence_texts()]
        embed = []
        for _ in range(3):
            started = time.perf_counter()
            encoder.encode(texts)
            embed.append(time.perf_counter() - started)
        fresh = engine_for(
            type(qs)(qs.name + "-ingest", qs.questions, None, bundled=False), encoder, Path(tmp)
        )
        started = time.perf_counter()
        fresh.ingest_articles([article])
        ingest = time.perf_counter() - started
        fresh.close()
        engine.close()

    ms = 1000.0
    f50 = statistics.median(floor)
    print(f"set {qs.name}: {len(questions)} questions x {args.rounds} rounds, ONNX")
    print(f"  query encoding (the floor)  p50 {f50 * ms:7.2f} ms")
    print(
        f"  whole answer                p50 {statistics.median(answer) * ms:7.2f} ms "
        f"({statistics.median(answer) / f50:.2f}x the floor), "
        f"p99 {percentile(answer, 0.99) * ms:7.2f} ms ({percentile(answer, 0.99) / f50:.2f}x)"
    )
    print(
        f"  of it, the question's parse p50 {statistics.median(parse) * ms:7.2f} ms "
        f"({statistics.median(parse) / f50:.2f}x)"
    )
    print(
        f"  of it, the parse checks     p50 {statistics.median(check) * ms:7.2f} ms "
        f"({statistics.median(check) / f50:.2f}x)"
    )
    e = statistics.median(embed)
    print(
        f"  one article ({len(texts)} texts): ingest {ingest * ms:7.1f} ms, embedding alone "
        f"{e * ms:7.1f} ms ({ingest / e:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
