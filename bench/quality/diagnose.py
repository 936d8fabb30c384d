#!/usr/bin/env python3
"""Why each question of a set scored as it did: how TradeTalk read it, the abstention
decision, and the best candidate sentences with their features, evidence marked.

    .venv/bin/python -m bench.quality.diagnose SET [--split tune] [--only ID,ID] [--failures]

For tuning on the tune split only: never read the test split's diagnostics before reporting.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.quality.run import ROOT, engine_for, known_sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set")
    parser.add_argument("--split", default="tune")
    parser.add_argument("--only", default="")
    parser.add_argument("--failures", action="store_true", help="only questions that failed")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from retrieval.question_analysis import analyze_question
    from tradetalk.abstention import AbstentionPolicy, abstention_reason
    from tradetalk.evaluate import judge, load_questions, norm
    from tradetalk.render import answer_json
    from tradetalk.sentence_choice import score_candidates

    qs = next(s for s in known_sets() if s.name == args.set)
    only = set(filter(None, args.only.split(",")))
    encoder = load_encoder(backend="onnx", cache_dir=Settings().model_cache)
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for(qs, encoder, Path(tmp))
        for item in load_questions(qs.questions):
            if (item.split and item.split != args.split) or (only and item.id not in only):
                continue
            answer = engine.ask(item.question)
            outcome = judge(item, answer_json(answer))
            ok = outcome.abstained if not item.evidence else outcome.answer_hit
            if args.failures and ok:
                continue
            analysis = analyze_question(item.question, years=engine._years())
            result = engine.search(item.question, 16)
            candidates = score_candidates(result, analysis)
            evidence = [norm(e) for e in item.evidence]
            status = "OK " if ok else "BAD"
            print(f"\n{status} {item.id} [{item.kind}] {item.question}")
            scope = analysis.scope.label if analysis.scope else None
            print(
                f"    read: kind={analysis.kind} focus={analysis.focus} scope={scope} "
                f"order={analysis.order} subject={analysis.subject} broad={analysis.broad}"
            )
            print(f"    unknown={result.unknown_tokens} rank={outcome.rank}")
            reason = abstention_reason(analysis, result, candidates, AbstentionPolicy())
            print(f"    abstain: {reason or '-'}   answer: {answer.text[:200]!r}")
            where = [
                n for n, c in enumerate(candidates) if any(e in norm(c.text) for e in evidence)
            ]
            print(f"    evidence sentence ranks among candidates: {where[:5]}")
            show = list(range(args.top)) + [n for n in where[:2] if n >= args.top]
            for n in show:
                if n >= len(candidates):
                    break
                c = candidates[n]
                mark = "*" if n in where else " "
                f = c.features
                flags = " ".join(
                    k
                    for k in ("rarest", "typed", "in_scope", "out_of_scope", "role", "lede")
                    if f[k]
                )
                print(
                    f"   {mark}{n:2} s={c.score:.3f} cos={c.cosine:.2f} pcos="
                    f"{f['passage_cosine']:.2f} bm25={f['passage_bm25']:.2f} foc={c.focus:.2f} "
                    f"ctx={c.context:.2f} rec={f['recency']:.2f} {flags} {c.hit.article.date} "
                    f"| {c.text[:130]}"
                )
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
