#!/usr/bin/env python3
"""Check one realistic question set in bench/quality/<name>/ against its (git-ignored) articles.

    .venv/bin/python bench/quality/check_set.py bench/quality/us-china [-v]

Uses TradeTalk's own article reader and passage splitter (never the answering path), so what it
checks is what score.py will see:
  * every article parses, with title, source, date and url;
  * every question line has id, question, evidence (list or null), kind and split (tune/test);
    ids are unique;
  * every evidence string occurs (score.py's normalisation) inside one passage, and inside one
    sentence of it, so an answer quoting sentences can contain it;
  * it prints counts by kind and split, and (-v) the article(s) each evidence string is in.
Exit status 1 if anything is wrong.
"""

from __future__ import annotations

import collections
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from corpus.articles import SUFFIXES, read_article  # noqa: E402
from corpus.passages import split_passages  # noqa: E402

QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
KINDS_UNANSWERABLE = {"near-topic-unanswerable", "off-topic"}


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(QUOTES)
    return re.sub(r"\s+", " ", text).strip().lower()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    set_dir = Path(argv[0])
    verbose = "-v" in argv
    problems: list[str] = []
    passages: list[tuple[str, str, list[str]]] = []  # (article file, passage text, sentences)
    files = sorted(p for p in (set_dir / "articles").glob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        problems.append(f"{set_dir}/articles: no articles (re-collect per SOURCES.md)")
    for path in files:
        try:
            article = read_article(path, max_bytes=2_000_000)
        except Exception as exc:  # report every broken file, not just the first
            problems.append(f"{path.name}: {exc}")
            continue
        for field in ("title", "source", "date", "url"):
            value = getattr(article, field)
            if not value or value == "unknown source":
                problems.append(f"{path.name}: no {field}")
        for passage in split_passages(article):
            sentences = [norm(s) for s in passage.sentence_texts(article.text)]
            passages.append((path.name, norm(passage.text), sentences))

    seen: set[str] = set()
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for number, line in enumerate((set_dir / "questions.jsonl").read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"questions.jsonl:{number}: not JSON ({exc})")
            continue
        qid = item.get("id", f"line {number}")
        for key in ("id", "question", "kind", "split"):
            if not item.get(key):
                problems.append(f"{qid}: no {key}")
        if qid in seen:
            problems.append(f"{qid}: duplicate id")
        seen.add(qid)
        if item.get("split") not in ("tune", "test"):
            problems.append(f"{qid}: split must be tune or test")
        evidence = item.get("evidence") or []
        kind = item.get("kind", "?")
        counts[(kind, item.get("split", "?"))] += 1
        if (kind in KINDS_UNANSWERABLE) != (not evidence):
            problems.append(f"{qid}: kind {kind!r} does not match evidence {evidence!r}")
        for ev in evidence:
            n = norm(ev)
            in_passage = sorted({f for f, text, _ in passages if n in text})
            in_sentence = sorted({f for f, _, sents in passages if any(n in s for s in sents)})
            if not in_passage:
                problems.append(f"{qid}: evidence not inside any one passage: {ev!r}")
            elif not in_sentence:
                problems.append(
                    f"{qid}: evidence spans sentences (answers quote sentences): {ev!r}"
                )
            elif verbose:
                print(f"{qid}: {ev[:60]!r} -> {', '.join(in_sentence)}")

    kinds = sorted({k for k, _ in counts})
    print(f"{'kind':28} tune test")
    for kind in kinds:
        print(f"{kind:28} {counts[(kind, 'tune')]:4} {counts[(kind, 'test')]:4}")
    total_tune = sum(v for (k, s), v in counts.items() if s == "tune")
    total_test = sum(v for (k, s), v in counts.items() if s == "test")
    print(f"{'total':28} {total_tune:4} {total_test:4}   articles: {len(files)}")
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
