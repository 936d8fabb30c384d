"""``tradetalk issue TOPIC [--json]`` and ``tradetalk issues``.

The commands are plain functions of an engine returning the text to print (errors are
`TradeTalkError`s: `UnknownIssue`, `CatalogueError`), plus `register_commands` to add them to
the Typer app in ``tradetalk/cli.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from briefings.issue_briefings import briefings_for
from briefings.render import briefing_json, briefing_text, statuses_text

if TYPE_CHECKING:
    from rich.console import Console

    from tradetalk.engine import Engine


def issue_command(engine: Engine, topic: str, as_json: bool = False) -> str:
    """The briefing on `topic` as text (or one JSON object). Raises `UnknownIssue`."""
    briefing = briefings_for(engine).briefing(topic)
    if as_json:
        return json.dumps(briefing_json(briefing), ensure_ascii=False)
    return briefing_text(briefing)


def issues_command(engine: Engine) -> str:
    """Every issue with its article count and a one-line status."""
    return statuses_text(briefings_for(engine).statuses())


def register_commands(
    app: typer.Typer,
    *,
    engine: Callable[[], Engine],
    failures: Callable[[], AbstractContextManager[None]],
    out: Console,
) -> None:
    """Add ``issue`` and ``issues`` to `app`, using the CLI's engine factory, error handler
    and console."""

    @app.command("issue")
    def issue(
        topic: Annotated[str, typer.Argument(help='An issue id or alias: "dairy", "ch 19".')],
        as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
    ) -> None:
        """Briefing on one negotiation issue: where it stands, positions, timeline."""
        with failures():
            out.print(issue_command(engine(), topic, as_json), markup=False)

    @app.command("issues")
    def issues() -> None:
        """List the negotiation issues with a one-line status and article counts."""
        with failures():
            out.print(issues_command(engine()), markup=False)
