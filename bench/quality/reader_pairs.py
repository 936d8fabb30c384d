#!/usr/bin/env python3
"""Question–sentence pairs from the development sets, for training and scoring a reader.

    .venv/bin/python -m bench.quality.reader_pairs OUT.jsonl [SET ...]

Every question of every set present is searched as the CLI searches it; each sentence of its
candidate passages becomes one line: the set, its negotiation, the question id and text, the
sentence, its cosine and whether it holds an evidence string (an unanswerable question's
sentences are all negatives). Article texts stay out of the repository: write OUT outside it.
"""

from __future__ import annotations

import json
import sys

from bench.quality.loo import load


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__)
        return 2
    from tradetalk.evaluate import norm
    from tradetalk.sentence_choice import candidate_features

    out, sets = argv[0], argv[1:]
    asked = load(sets or None)
    with open(out, "w", encoding="utf-8") as f:
        for a in asked:
            if a.error:
                continue
            evidence = [norm(e) for e in a.item.evidence]
            for hit, i, features in candidate_features(a.result, a.analysis):
                sentence = hit.sentences[i].text
                line = {
                    "set": a.set,
                    "group": a.group,
                    "qid": a.item.id,
                    "kind": a.item.kind,
                    "question": a.item.question,
                    "sentence": sentence,
                    "title": hit.article.title,
                    "cosine": round(features["cosine"], 4),
                    "label": int(any(e in norm(sentence) for e in evidence)),
                    "answerable": bool(evidence),
                }
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
