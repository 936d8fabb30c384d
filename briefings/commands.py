"""The briefing commands of ``tradetalk``: ``issue``, ``issues [--suggest]``, ``issue-add``,
``issue-rename``, ``issue-merge``, ``issue-drop``, ``parties``, ``party-set``, ``party-drop``.

The commands are plain functions of an engine (or of a Discord server's briefings, for
``tradetalk --server ID``) returning the text to print (errors are
`TradeTalkError`s: `UnknownIssue`, `CatalogueError`); the CLI (``cli/briefings.py``) and the
bot's proposal review call them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from briefings.catalogue import Issue, Party
from briefings.chart import timeline_png
from briefings.discovery import Proposal
from briefings.issue_briefings import IssueBriefings, briefings_of
from briefings.render import briefing_json, briefing_text, statuses_text
from tradetalk.errors import UnknownIssue

if TYPE_CHECKING:
    from tradetalk.engine import Engine

    # An engine's own briefings, or a Discord server's (tenancy.Libraries.briefings).
    Source = Engine | IssueBriefings


def issue_command(
    engine: Source, topic: str, as_json: bool = False, chart: Path | None = None
) -> str:
    """The briefing on `topic` as text (or one JSON object); with `chart`, also writes the
    timeline picture there. Raises `UnknownIssue`."""
    briefing = briefings_of(engine).briefing(topic)
    if chart is not None:
        write_file(chart, timeline_png(briefing))
    if as_json:
        return json.dumps(briefing_json(briefing), ensure_ascii=False)
    text = briefing_text(briefing)
    return text + (f"\n\nTimeline picture: {chart}" if chart is not None else "")


def issues_command(engine: Source) -> str:
    """Every issue with its article count and a one-line status."""
    statuses = briefings_of(engine).statuses()
    if not statuses:
        return (
            "No issues kept in this library yet: `tradetalk issues --suggest` proposes the "
            'subjects its articles keep coming back to, and `tradetalk issue "TOPIC"` briefs on '
            "any topic."
        )
    return statuses_text(statuses)


def proposal_text(number: int, proposal: Proposal) -> str:
    aliases = ", ".join(proposal.aliases) or "-"
    lines = [
        f"{number}. {proposal.title} [{proposal.id}] · {proposal.article_count} articles",
        f"   aliases: {aliases}",
    ]
    lines += [f"   “{' '.join(e.text.split())}” ({e.date or 'undated'})" for e in proposal.examples]
    return "\n".join(lines)


def suggest_command(engine: Source) -> str:
    """The issues discovery proposes, with what an admin can do with them."""
    proposals = briefings_of(engine).proposals()
    if not proposals:
        return "No new issues to propose: the catalogue already covers the recurring subjects."
    lines = ["Proposed issues (recurring subjects the catalogue lacks), best first:", ""]
    lines += [proposal_text(n, p) for n, p in enumerate(proposals, start=1)]
    lines += [
        "",
        "Accept one: tradetalk issue-add ID [--title TITLE]; fold one into another: "
        "tradetalk issue-merge INTO ID; never propose one again: tradetalk issue-drop ID.",
    ]
    return "\n".join(lines)


def _issue_or_proposal(briefings: IssueBriefings, name: str) -> Issue:
    try:
        return briefings.resolve(name)
    except UnknownIssue:
        try:
            return briefings.proposal(name).as_issue()
        except UnknownIssue:
            raise UnknownIssue(
                f"no issue or proposed issue {name!r}; `tradetalk issues --suggest` lists "
                "the proposals"
            ) from None


def add_command(engine: Source, topic: str, title: str | None = None) -> str:
    """Keep a proposal (its id or a name) or any topic as an issue of the library."""
    issue = briefings_of(engine).keep(topic, title)
    return f"added: {issue.id} — {issue.title} (aliases: {', '.join(issue.aliases)})"


def rename_command(engine: Source, topic: str, title: str) -> str:
    briefings = briefings_of(engine)
    issue = briefings.store.rename_issue(briefings.resolve(topic), title)
    return f"renamed: {issue.id} — {issue.title}"


def merge_command(engine: Source, into: str, other: str) -> str:
    briefings = briefings_of(engine)
    target = _issue_or_proposal(briefings, into)
    source = _issue_or_proposal(briefings, other)
    merged = briefings.store.merge_issues(target, source)
    return f"merged: {source.id} into {merged.id} — {merged.title}"


def drop_command(engine: Source, name: str) -> str:
    briefings = briefings_of(engine)
    try:
        issue = briefings.resolve(name)
    except UnknownIssue:
        proposal = briefings.proposal(name)
        briefings.store.dismiss(proposal.id)
        return f"dismissed: {proposal.id} will not be proposed again"
    briefings.store.drop_issue(issue.id)
    return f"dropped: {issue.id} — {issue.title}"


def parties_text(engine: Source) -> str:
    parties = briefings_of(engine).parties().parties
    lines = []
    for party_id, party in parties.items():
        people = f"; officials: {', '.join(party.people)}" if party.people else ""
        lines.append(f"{party_id}: {party.name} (names: {', '.join(party.aliases)}{people})")
    return "\n".join(lines)


def party_set_command(
    engine: Source,
    party_id: str,
    name: str | None,
    aliases: list[str],
    people: list[str],
) -> str:
    """Correct a party: its display name, and names or officials added to the found ones."""
    briefings = briefings_of(engine)
    current = briefings.parties().parties.get(party_id)
    if current is None and not (name and aliases):
        raise UnknownIssue(
            f"no party {party_id!r}; a new party needs --name and at least one --alias"
        )
    base = current or Party(name=name or party_id, aliases=tuple(aliases))
    party = Party(
        name=name or base.name,
        aliases=tuple(dict.fromkeys((*base.aliases, *aliases))),
        people=tuple(dict.fromkeys((*base.people, *people))),
    )
    briefings.store.set_party(party_id, party)
    return f"party {party_id}: {party.name} (names: {', '.join(party.aliases)})"


def party_drop_command(engine: Source, party_id: str) -> str:
    briefings_of(engine).store.drop_party(party_id)
    return f"dropped party: {party_id} (not a negotiating party in this library)"


def write_file(path: Path, data: bytes) -> None:
    """Write atomically: a reader never sees half a picture."""
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
