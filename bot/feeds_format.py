"""Feed digests and the feed list as Discord messages: pure functions, no I/O. Titles, outlets
and links come from pages and feeds anyone can write, so all of it is escaped and cut to fit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import discord

from bot.briefing_format import developments_line
from bot.formatting import (
    ANSWER_COLOUR,
    CHOICE_NAME_MAX,
    CHOICES_MAX,
    CONTENT_MAX,
    fit,
    lines_that_fit,
    safe_url,
    source_line,
    trim,
)
from feeds.digest import Digest
from feeds.store import Feed

TITLE_MAX = 160
ERROR_MAX = 160
ARTICLES_LISTED = 15


def digest_message(digest: Digest) -> str:
    """The new articles (title, outlet, date, link) and the issues they moved, one message."""
    count = len(digest.articles)
    header = f"**New from the feeds: {count} article{'s' if count != 1 else ''}**"
    footer = developments_line(digest.updates)
    lines = [
        "• " + source_line(a.title, a.source, a.date, a.url, title_max=TITLE_MAX)
        for a in digest.articles[:ARTICLES_LISTED]
    ]
    if count > ARTICLES_LISTED:
        lines.append(f"…and {count - ARTICLES_LISTED} more (`/sources` lists them all)")
    room = CONTENT_MAX - len(header) - len(footer) - 2
    return "\n".join([header, lines_that_fit(lines, room), trim(footer, CONTENT_MAX)])[:CONTENT_MAX]


def _when(stamp: str | None) -> str:
    """Discord's timestamp markup: "5 minutes ago" in the reader's time zone (the full time
    on hover)."""
    if not stamp:
        return "never"
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return fit(stamp, 30)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"<t:{int(moment.timestamp())}:R>"


def feeds_embed(feeds: Sequence[Feed]) -> discord.Embed:
    """Each feed: its link, last success, last error, article count, where digests go."""
    embed = discord.Embed(title=f"Followed feeds ({len(feeds)})", colour=ANSWER_COLOUR)
    if not feeds:
        embed.description = "No feeds followed. Add one with `/follow url:`."
        return embed
    lines = []
    for feed in feeds:
        link = safe_url(feed.url)
        name = fit(feed.title, TITLE_MAX) if feed.title else "(untitled)"
        where = f" · digests in <#{feed.channel_id}>" if feed.channel_id else ""
        waiting = f", {feed.pending:,} waiting" if feed.pending else ""
        error = (
            f"\n  last error ({_when(feed.last_error_at)}): {fit(feed.last_error, ERROR_MAX)}"
            if feed.last_error
            else ""
        )
        lines.append(
            f"**{name}** <{link}>\n  {feed.article_count:,} articles{waiting} · last success "
            f"{_when(feed.last_success_at)}{where}{error}"
        )
    embed.description = lines_that_fit(lines)
    embed.set_footer(text="/unfollow stops one · new articles are posted as a digest")
    return embed


def feed_choices(feeds: Sequence[Feed], typed: str) -> list[discord.app_commands.Choice[str]]:
    needle = typed.strip().lower()
    found = [f for f in feeds if needle in f.url.lower() or needle in (f.title or "").lower()]
    return [
        discord.app_commands.Choice(name=trim(f.title or f.url, CHOICE_NAME_MAX), value=f.url)
        for f in found
        if len(f.url) <= 100
    ][:CHOICES_MAX]
