"""Scoring answers against questions with known evidence (the rule of ../shared/eval/score.py:
R@1/3/5, MRR, answer hit, false abstention, abstention recall, passage and answer lengths)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tradetalk.errors import TradeTalkError

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    evidence: tuple[str, ...]


def load_questions(path: Path) -> list[EvalItem]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TradeTalkError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            items.append(
                EvalItem(
                    str(data.get("id", number)), data["question"], tuple(data.get("evidence") or ())
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TradeTalkError(f"{path}:{number}: not a question object ({exc})") from None
    return items


def score(items: Iterable[EvalItem], reply_for: Callable[[str], dict]) -> dict[str, object]:
    """Metrics for `items`, where `reply_for(question)` returns the ``ask --json`` object."""
    hits = {1: 0, 3: 0, 5: 0}
    mrr = answer_hit = false_abstain = abstained = 0.0
    long_passages = long_answers = answerable = unanswerable = 0
    misses = []
    for item in items:
        reply = reply_for(item.question)
        passages = [norm(p["text"]) for p in reply.get("passages", [])][:5]
        long_passages += sum(len(p.split()) > 150 for p in passages)
        long_answers += len(reply.get("answer") or "") > 600
        if not item.evidence:
            unanswerable += 1
            abstained += bool(reply.get("abstained"))
            if not reply.get("abstained"):
                misses.append(f"answered-unanswerable {item.id}: {item.question}")
            continue
        answerable += 1
        evidence = [norm(e) for e in item.evidence]
        rank = next((k for k, p in enumerate(passages) if any(e in p for e in evidence)), None)
        if rank is not None:
            mrr += 1 / (rank + 1)
            for k in hits:
                hits[k] += rank < k
        if reply.get("abstained"):
            false_abstain += 1
            misses.append(f"false-abstain {item.id}: {item.question}")
        elif any(e in norm(reply.get("answer") or "") for e in evidence):
            answer_hit += 1
        else:
            misses.append(f"answer-miss {item.id}: {item.question}")
        if rank is None or rank >= 3:
            misses.append(f"miss@3 {item.id}: {item.question} (rank {rank})")
    n = max(answerable, 1)
    return {
        "answerable": answerable,
        "unanswerable": unanswerable,
        "R@1": round(hits[1] / n, 3),
        "R@3": round(hits[3] / n, 3),
        "R@5": round(hits[5] / n, 3),
        "MRR": round(mrr / n, 3),
        "answer_hit": round(answer_hit / n, 3),
        "false_abstain": round(false_abstain / n, 3),
        "abstain_recall": round(abstained / max(unanswerable, 1), 3),
        "long_passages": long_passages,
        "long_answers": long_answers,
        "misses": misses,
    }
