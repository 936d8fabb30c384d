"""The digest after a round that added articles: the new articles (title, outlet, date, link)
and the issues that gained developments from them (the machinery of ``/whatsnew``).

Items stay undigested in the store until a digest naming them has been shown, so a digest cut
short by a restart is shown by the next round instead. The bot formats `Digest` for Discord;
`digest_text` is the plain form the CLI prints."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from briefings import IssueUpdate, briefings_for
from briefings.issue_briefings import IssueBriefings
from feeds.store import FeedStore, Item
from tradetalk.engine import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestArticle:
    article_id: str
    title: str
    source: str
    date: str | None
    url: str | None


@dataclass(frozen=True)
class Digest:
    channel_id: int | None  # where it goes (None: feeds followed without a channel)
    items: tuple[Item, ...]
    articles: tuple[DigestArticle, ...]
    updates: tuple[IssueUpdate, ...] | None  # None: the developments could not be worked out


def pending_digests(
    store: FeedStore,
    engine: Engine,
    briefings: IssueBriefings | None = None,
    *,
    channels_only: bool = False,
) -> list[Digest]:
    """One digest per channel for the ingested items not yet shown in one (`channels_only`:
    only those with a Discord channel, the bot's to post). Articles removed since are left
    out. `briefings` are what /whatsnew reads in that library (a server's: its articles and the
    global ones); by default the engine's own. (Scans the library for issue developments:
    call from a thread.)"""
    by_channel: dict[int | None, list[Item]] = defaultdict(list)
    for item, channel in store.undigested():
        if channel is None and channels_only:
            continue
        by_channel[channel].append(item)
    if not by_channel:
        return []
    articles = engine.index.articles
    digests = []
    for channel, items in by_channel.items():
        shown = [
            DigestArticle(a.id, a.title, a.source, a.date, a.url)
            for a in (articles.get(i.article_id or "") for i in items)
            if a is not None
        ]
        updates = developments(briefings or briefings_for(engine), shown)
        digests.append(Digest(channel, tuple(items), tuple(shown), updates))
    return digests


def developments(
    briefings: IssueBriefings, new: list[DigestArticle]
) -> tuple[IssueUpdate, ...] | None:
    """Issues with developments from the `new` articles: what ``/whatsnew`` would say if these
    were all that had been added since the last check."""
    if not new:
        return ()
    fresh = {a.article_id for a in new}
    try:
        before = {k: v for k, v in briefings.article_hashes().items() if k not in fresh}
        return tuple(briefings.whats_new(before).updates)
    except Exception:  # the digest goes out without them rather than not at all
        log.exception("could not work out the developments for a feed digest")
        return None


def digest_text(digest: Digest) -> str:
    """The digest as plain text (the CLI's `tradetalk poll`)."""
    count = len(digest.articles)
    lines = [f"New from the feeds: {count} article{'s' if count != 1 else ''}"]
    for article in digest.articles:
        when = f", {article.date}" if article.date else ""
        link = f" <{article.url}>" if article.url else ""
        lines.append(f"- “{article.title}” — {article.source}{when}{link}")
    if digest.updates is None:
        lines.append("(Could not work out which issues gained developments; see the log.)")
    elif digest.updates:
        names = ", ".join(
            f"{u.issue.title} ({_sentences(len(u.sentences))})" for u in digest.updates
        )
        lines.append(f"New developments on: {names}.")
    else:
        lines.append("No known issue gained developments.")
    return "\n".join(lines)


def _sentences(count: int) -> str:
    return f"{count} new sentence{'s' if count != 1 else ''}"
