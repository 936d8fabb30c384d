"""The issue catalogue as the admin and library replies use it: which known issues an article
touches, which ones the articles cover, and which gained developments with an ingest or reindex.

They run in a worker thread (they may scan the index). They only add to a reply about something
that has already happened (an article added, the index rebuilt), so a broken catalogue or an
unexpected failure is logged and the reply goes out without them rather than as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from briefings import IssueBriefings, IssueUpdate, briefings_of
from retrieval.records import ArticleInfo
from tradetalk.errors import TradeTalkError

if TYPE_CHECKING:
    from tradetalk.engine import Engine

    Source = Engine | IssueBriefings  # a library's engine, or a server's briefings (tenancy)

log = logging.getLogger(__name__)


def touched_issues(engine: Source, article: ArticleInfo) -> list[str]:
    """Titles of the known issues ``article`` has sentences about (its own, or copies of
    another article's), for the /ingest reply."""
    try:
        # Developments since no articles at all: every sentence on every issue.
        everything = briefings_of(engine).whats_new({}).updates
    except Exception as exc:
        _log_failure("the issues an article touches", exc)
        return []
    return [
        update.issue.title
        for update in everything
        if any(
            s.article_id == article.id or article.id in dict(s.also_in) for s in update.sentences
        )
    ]


def covered_issues(engine: Source) -> list[str]:
    """Titles of the known issues at least one article mentions, for /about."""
    try:
        statuses = briefings_of(engine).statuses()
    except Exception as exc:
        _log_failure("the issues covered", exc)
        return []
    return [status.issue.title for status in statuses if status.article_count]


def article_hashes(engine: Source) -> dict[str, str]:
    """The articles as they are now (id -> content hash): take it before a change, then ask
    `new_developments` after it."""
    return briefings_of(engine).article_hashes()


def new_developments(engine: Source, before: Mapping[str, str]) -> list[IssueUpdate] | None:
    """Issues that gained developments from articles added or changed since ``before``; None
    when that could not be worked out (logged)."""
    try:
        return list(briefings_of(engine).whats_new(before).updates)
    except Exception as exc:
        _log_failure("new developments", exc)
        return None


def _log_failure(what: str, exc: Exception) -> None:
    if isinstance(exc, TradeTalkError):  # e.g. an admin's issues.toml with a mistake in it
        log.warning("could not work out %s: %s", what, exc)
    else:
        log.exception("could not work out %s", what)
