"""Scoring answers against questions with known evidence (the rule of ../shared/eval/score.py:
R@1/3/5, MRR, answer hit, false abstention, abstention recall, passage and answer lengths),
overall and by question kind."""

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
    kind: str = ""
    split: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one reply scored: the rank of the first passage with evidence (None: not in the
    top 5), whether it abstained, whether the answer quotes evidence."""

    item: EvalItem
    rank: int | None
    abstained: bool
    answer_hit: bool
    long_passages: int
    long_answer: bool


def load_questions(path: Path, *, split: str | None = None) -> list[EvalItem]:
    """The questions of a JSONL file (only those of `split`, when given)."""
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
                    str(data.get("id", number)),
                    data["question"],
                    tuple(data.get("evidence") or ()),
                    str(data.get("kind") or ""),
                    str(data.get("split") or ""),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TradeTalkError(f"{path}:{number}: not a question object ({exc})") from None
    if split is not None:
        items = [item for item in items if item.split == split]
    return items


def judge(item: EvalItem, reply: dict) -> Outcome:
    passages = [norm(p["text"]) for p in reply.get("passages", [])][:5]
    evidence = [norm(e) for e in item.evidence]
    rank = next((k for k, p in enumerate(passages) if any(e in p for e in evidence)), None)
    answer = norm(reply.get("answer") or "")
    abstained = bool(reply.get("abstained"))
    return Outcome(
        item=item,
        rank=rank if evidence else None,
        abstained=abstained,
        answer_hit=bool(evidence) and not abstained and any(e in answer for e in evidence),
        long_passages=sum(len(p.split()) > 150 for p in passages),
        long_answer=len(reply.get("answer") or "") > 600,
    )


def metrics(outcomes: list[Outcome]) -> dict[str, object]:
    """score.py's figures over `outcomes`."""
    answerable = [o for o in outcomes if o.item.evidence]
    unanswerable = [o for o in outcomes if not o.item.evidence]
    n = max(len(answerable), 1)

    def share(count: float, of: int) -> float:
        return round(count / max(of, 1), 3)

    ranks = [o.rank for o in answerable]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "R@1": share(sum(r is not None and r < 1 for r in ranks), n),
        "R@3": share(sum(r is not None and r < 3 for r in ranks), n),
        "R@5": share(sum(r is not None and r < 5 for r in ranks), n),
        "MRR": share(sum(1 / (r + 1) for r in ranks if r is not None), n),
        "answer_hit": share(sum(o.answer_hit for o in answerable), n),
        "false_abstain": share(sum(o.abstained for o in answerable), n),
        "abstain_recall": share(sum(o.abstained for o in unanswerable), len(unanswerable)),
        "long_passages": sum(o.long_passages for o in outcomes),
        "long_answers": sum(o.long_answer for o in outcomes),
    }


def misses(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        item = o.item
        if not item.evidence:
            if not o.abstained:
                lines.append(f"answered-unanswerable {item.id}: {item.question}")
            continue
        if o.abstained:
            lines.append(f"false-abstain {item.id}: {item.question}")
        elif not o.answer_hit:
            lines.append(f"answer-miss {item.id}: {item.question}")
        if o.rank is None or o.rank >= 3:
            lines.append(f"miss@3 {item.id}: {item.question} (rank {o.rank})")
    return lines


def by_kind(outcomes: list[Outcome]) -> dict[str, dict[str, object]]:
    """The figures per question kind (the ``kind`` field; "-" when a set has none)."""
    kinds: dict[str, list[Outcome]] = {}
    for o in outcomes:
        kinds.setdefault(o.item.kind or "-", []).append(o)
    return {kind: metrics(group) for kind, group in sorted(kinds.items())}


def score(items: Iterable[EvalItem], reply_for: Callable[[str], dict]) -> dict[str, object]:
    """Metrics for `items`, where `reply_for(question)` returns the ``ask --json`` object;
    ``misses`` lists what went wrong and ``by_kind`` breaks the figures down."""
    outcomes = [judge(item, reply_for(item.question)) for item in items]
    return {**metrics(outcomes), "misses": misses(outcomes), "by_kind": by_kind(outcomes)}
