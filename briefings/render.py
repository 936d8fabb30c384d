"""Briefings as text for a terminal and as JSON (the stable ``issue --json`` contract)."""

from __future__ import annotations

from briefings.briefing import PROPOSED, Briefing, CitedSentence, IssueStatus, IssueUpdate
from tradetalk.render import source_line

STATUS_CHARS = 90


def _number(briefing: Briefing) -> dict[str, int]:
    """Citation numbers, one per article, in order of first use."""
    numbers: dict[str, int] = {}
    for sentence in briefing.citations:
        numbers.setdefault(sentence.article_id, len(numbers) + 1)
    return numbers


def _source_line(number: int, sentence: CitedSentence) -> str:
    return source_line(number, sentence.title, sentence.source, sentence.date, sentence.url)


def not_curated_line(briefing: Briefing) -> str | None:
    """What a briefing on an issue the library has not kept says of itself (None for one it
    has): built on the spot, and how an admin keeps it."""
    if briefing.curated:
        return None
    issue = briefing.issue
    if briefing.kind == PROPOSED:
        what = "A proposed issue, not yet accepted: built from the articles that discuss it."
        keep = issue.id
    else:
        what = (
            f"Not a curated issue: built on the spot from the articles that discuss "
            f"“{issue.aliases[0] if issue.aliases else issue.title}”."
        )
        keep = issue.aliases[0] if issue.aliases else issue.title
    return f'{what} An admin can keep it as an issue: tradetalk issue-add "{keep}".'


def briefing_text(briefing: Briefing) -> str:
    issue = briefing.issue
    lines = [f"{issue.title} [{issue.id}]"]
    note = not_curated_line(briefing)
    if note:
        lines.append(note)
    lines.append(issue.description)
    if not briefing.mentioned:
        lines.append("No article mentions this issue yet.")
        return "\n".join(lines)
    count = briefing.article_count
    lines.append(f"Mentioned in {count} article{'s' if count != 1 else ''}.")
    numbers = _number(briefing)

    def cited(sentence: CitedSentence) -> str:
        return f"{sentence.text} [{numbers[sentence.article_id]}]"

    lines += ["", "Where it stands"]
    lines += [f"  {cited(s)}" for s in briefing.standing]
    lines += ["", "Positions"]
    for party, name in briefing.parties:
        lines.append(f"  {name}")
        positions = briefing.positions_of(party)
        if not positions:
            lines.append("    (no stated position in the articles)")
        for position in positions:
            who = f" — {position.speaker}" if position.speaker else ""
            lines.append(f"    • {cited(position.sentence)}{who}")
    lines += ["", "Timeline"]
    for entry in briefing.timeline:
        lines.append(f"  {entry.date or 'undated':<10}  {cited(entry.sentence)}")
    lines += ["", "Sources"]
    copies: dict[str, dict[str, None]] = {}
    for sentence in briefing.citations:
        outlets = copies.setdefault(sentence.article_id, {})
        outlets.update(dict.fromkeys(source for _, source in sentence.also_in))
    listed: set[str] = set()
    for sentence in briefing.citations:
        if sentence.article_id not in listed:
            listed.add(sentence.article_id)
            line = _source_line(numbers[sentence.article_id], sentence)
            if copies[sentence.article_id]:
                line += " (also in " + ", ".join(copies[sentence.article_id]) + ")"
            lines.append(f"  {line}")
    return "\n".join(lines)


def sentence_json(sentence: CitedSentence) -> dict[str, object]:
    return {
        "text": sentence.text,
        "article_id": sentence.article_id,
        "passage_id": sentence.passage_id,
        "title": sentence.title,
        "source": sentence.source,
        "date": sentence.date,
        "url": sentence.url,
        "also_in": [{"article_id": a, "source": s} for a, s in sentence.also_in],
        "dates": dict(sentence.dates),
    }


def briefing_json(briefing: Briefing) -> dict[str, object]:
    """``{"issue", "mentioned", "article_count", "where_it_stands", "positions", "timeline"}``."""
    issue = briefing.issue
    return {
        "issue": {
            "id": issue.id,
            "title": issue.title,
            "description": issue.description,
            "aliases": list(issue.aliases),
            "parties": list(issue.parties),
        },
        "kind": briefing.kind,  # "curated", "proposed" or "on-demand"
        "mentioned": briefing.mentioned,
        "article_count": briefing.article_count,
        "where_it_stands": [sentence_json(s) for s in briefing.standing],
        "positions": [
            {
                "party": party,
                "name": name,
                "sentences": [
                    {**sentence_json(p.sentence), "speaker": p.speaker, "stance": p.stance}
                    for p in briefing.positions_of(party)
                ],
            }
            for party, name in briefing.parties
        ],
        "timeline": [
            {"date": e.date, "dated_by": e.dated_by, **sentence_json(e.sentence)}
            for e in briefing.timeline
        ],
        "index_version": briefing.index_version,
    }


def excerpt(text: str, focus: int = 0, limit: int = STATUS_CHARS) -> str:
    """At most `limit` characters of `text`, verbatim, starting at the clause holding `focus`
    (so a long sentence about two issues shows the part about this one); "…" marks cuts."""
    if len(text) <= limit:
        return text
    start = 0
    if focus > limit // 2:
        start = text.rfind(", ", 0, focus) + 2
        if start < 2 or focus - start > limit // 2:  # no clause start near: a few words before
            start = text.rfind(" ", 0, max(0, focus - 30)) + 1
    piece = text[start:]
    if len(piece) > limit:
        piece = piece[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return ("… " if start else "") + piece


def status_line(status: IssueStatus) -> str:
    """One line: "2018-09-11: <latest sentence, shortened>", or that no article mentions it."""
    latest = status.latest
    if latest is None:
        return "not mentioned in any article"
    return f"{latest.date or 'undated'}: {excerpt(latest.text, status.focus)}"


def statuses_text(statuses: list[IssueStatus]) -> str:
    id_width = max((len(s.issue.id) for s in statuses), default=2)
    title_width = max((len(s.issue.title) for s in statuses), default=5)
    lines = []
    for status in statuses:
        count = f"{status.article_count} article{'s' if status.article_count != 1 else ''}"
        lines.append(
            f"{status.issue.id:<{id_width}}  {status.issue.title:<{title_width}}  "
            f"{count:<11} {status_line(status)}"
        )
    return "\n".join(lines)


def updates_text(updates: list[IssueUpdate]) -> str:
    """What ``/whatsnew`` says: each issue with new developments, and how many."""
    if not updates:
        return "No issue gained new developments."
    lines = ["Issues with new developments:"]
    for update in updates:
        n = len(update.sentences)
        lines.append(
            f"  {update.issue.id}: {n} new sentence{'s' if n != 1 else ''} ({update.issue.title})"
        )
    return "\n".join(lines)
