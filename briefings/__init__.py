"""Per-issue briefings: where each negotiation issue stands, who wants what, what changed.

Entry points: `briefings_for(engine)` gives the engine's `IssueBriefings` (``.briefing(topic)``,
``.statuses()``, ``.suggest(text)``, ``.whats_new(before)``); `since_last_check` serves
``/whatsnew``; `briefings.render` turns results into text or JSON. Nothing here imports
discord: the bot formats the same dataclasses."""

from briefings.briefing import (
    Briefing,
    CitedSentence,
    IssueStatus,
    IssueUpdate,
    Position,
    TimelineEntry,
)
from briefings.catalogue import Catalogue, CatalogueError, Issue, load_catalogue
from briefings.issue_briefings import IssueBriefings, WhatsNew, briefings_for, briefings_of
from briefings.whatsnew import since_last_check

__all__ = [
    "Briefing",
    "Catalogue",
    "CatalogueError",
    "CitedSentence",
    "Issue",
    "IssueBriefings",
    "IssueStatus",
    "IssueUpdate",
    "Position",
    "TimelineEntry",
    "WhatsNew",
    "briefings_for",
    "briefings_of",
    "load_catalogue",
    "since_last_check",
]
