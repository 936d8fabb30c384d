"""The briefing commands of ``tradetalk``: ``issue``, ``issues [--suggest]``, ``issue-add``,
``issue-rename``, ``issue-merge``, ``issue-drop``, ``parties``, ``party-set``, ``party-drop``,
added to the Typer app (`register_commands`) over the plain functions of
`briefings.commands`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from briefings.commands import (
    add_command,
    drop_command,
    issue_command,
    issues_command,
    merge_command,
    parties_text,
    party_drop_command,
    party_set_command,
    rename_command,
    suggest_command,
)
from tradetalk.errors import TradeTalkError

if TYPE_CHECKING:
    from rich.console import Console

    from briefings.commands import Source

Audit = Callable[[str, str, str, str], None]  # action, target, outcome, detail


def register_commands(
    app: typer.Typer,
    *,
    engine: Callable[[], Source],
    failures: Callable[[], AbstractContextManager[None]],
    out: Console,
    audit: Audit | None = None,
) -> None:
    """Add the briefing commands to `app`, using the CLI's engine factory, error handler,
    console and audit log."""

    def record(action: str, target: str, detail: str, run: Callable[[], str]) -> str:
        try:
            text = run()
        except TradeTalkError as exc:
            if audit:
                audit(action, target, "failed", str(exc))
            raise
        if audit:
            audit(action, target, "ok", detail)
        return text

    @app.command("issue")
    def issue(
        topic: Annotated[
            str,
            typer.Argument(
                help='An issue id or alias ("dairy", "ch 19"), a proposal, or any topic: '
                '"prisoner releases".'
            ),
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
        chart: Annotated[
            Path | None,
            typer.Option("--chart", help="Also write the timeline picture (PNG) to this file."),
        ] = None,
    ) -> None:
        """Briefing on one negotiation issue, or on any topic the articles discuss: where it
        stands, positions, timeline."""
        with failures():
            out.print(issue_command(engine(), topic, as_json, chart), markup=False)

    @app.command("issues")
    def issues(
        suggest: Annotated[
            bool,
            typer.Option("--suggest", help="Propose issues found in the articles instead."),
        ] = False,
    ) -> None:
        """List the negotiation issues with a one-line status and article counts."""
        with failures():
            text = suggest_command(engine()) if suggest else issues_command(engine())
            out.print(text, markup=False)

    @app.command("issue-add")
    def issue_add(
        proposal_id: Annotated[
            str,
            typer.Argument(help="A proposal's id (issues --suggest), or any topic to keep."),
        ],
        title: Annotated[str | None, typer.Option("--title", help="Name it this.")] = None,
    ) -> None:
        """Keep a proposed issue, or a topic: it gets briefings, autocomplete and what's-new."""
        with failures():
            eng = engine()
            text = record(
                "issue-add", proposal_id, title or "", lambda: add_command(eng, proposal_id, title)
            )
            out.print(text, markup=False)

    @app.command("issue-rename")
    def issue_rename(
        topic: Annotated[str, typer.Argument(help="The issue (id or alias).")],
        title: Annotated[str, typer.Argument(help="Its new title.")],
    ) -> None:
        """Rename an issue (the old title stays an alias)."""
        with failures():
            eng = engine()
            text = record("issue-rename", topic, title, lambda: rename_command(eng, topic, title))
            out.print(text, markup=False)

    @app.command("issue-merge")
    def issue_merge(
        into: Annotated[str, typer.Argument(help="The issue (or proposal) to keep.")],
        other: Annotated[str, typer.Argument(help="The issue (or proposal) folded into it.")],
    ) -> None:
        """Merge two issues: the second's names become aliases of the first."""
        with failures():
            eng = engine()
            text = record("issue-merge", into, other, lambda: merge_command(eng, into, other))
            out.print(text, markup=False)

    @app.command("issue-drop")
    def issue_drop(
        name: Annotated[str, typer.Argument(help="An issue, or a proposal never to offer again.")],
    ) -> None:
        """Drop an issue from this library, or dismiss a proposal."""
        with failures():
            eng = engine()
            out.print(record("issue-drop", name, "", lambda: drop_command(eng, name)), markup=False)

    @app.command("parties")
    def parties() -> None:
        """List the negotiating parties found in the articles, with their names and officials."""
        with failures():
            out.print(parties_text(engine()), markup=False)

    @app.command("party-set")
    def party_set(
        party_id: Annotated[str, typer.Argument(help="A party id (see `tradetalk parties`).")],
        name: Annotated[str | None, typer.Option("--name", help="How briefings name it.")] = None,
        alias: Annotated[
            list[str] | None, typer.Option("--alias", help="Another name for it (repeatable).")
        ] = None,
        person: Annotated[
            list[str] | None,
            typer.Option("--person", help="An official's surname (repeatable)."),
        ] = None,
    ) -> None:
        """Correct a party: its name, or names and officials the articles use for it."""
        with failures():
            eng = engine()
            text = record(
                "party-set",
                party_id,
                name or "",
                lambda: party_set_command(eng, party_id, name, alias or [], person or []),
            )
            out.print(text, markup=False)

    @app.command("party-drop")
    def party_drop(
        party_id: Annotated[str, typer.Argument(help="A party id (see `tradetalk parties`).")],
    ) -> None:
        """Say a found party is not a negotiating party here."""
        with failures():
            eng = engine()
            text = record("party-drop", party_id, "", lambda: party_drop_command(eng, party_id))
            out.print(text, markup=False)
