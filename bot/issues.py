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
from briefings.briefing import CitedSentence
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


def most_relevant(briefings: IssueBriefings, update: IssueUpdate) -> CitedSentence:
    """The new sentence most about the issue (as its briefing ranks developments): the newest
    sentence may be about several issues, or mostly about another one."""
    newest = update.sentences[-1]
    try:
        briefing = briefings.briefing(update.issue.id)
    except Exception as exc:
        _log_failure("the most relevant new sentence", exc)
        return newest
    relevance = {
        (e.sentence.article_id, " ".join(e.sentence.text.split())): e.relevance
        for e in briefing.developments or briefing.timeline
    }
    ranked = [
        (relevance.get((s.article_id, " ".join(s.text.split())), -1.0), n, s)
        for n, s in enumerate(update.sentences)
    ]
    return max(ranked, key=lambda item: (item[0], item[1]))[2]
