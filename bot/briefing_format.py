"""Issue briefings, the issue list and "what's new" as Discord messages: pure functions, no I/O.

A briefing is one message of up to three embeds: the briefing itself (what the issue is, where
it stands, each party's positions), its timeline, and the numbered sources. Every sentence is
quoted word for word, escaped so Markdown and mentions in it show as written; when room runs
short, each is cut at a sentence end or between words (marked " …"), and the sections share
Discord's 6,000 characters so that one long sentence can't crowd out the rest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import discord

from bot.formatting import (
    ANSWER_COLOUR,
    CHOICE_NAME_MAX,
    CHOICES_MAX,
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_VALUE_MAX,
    embed_size,
    escape,
    fit,
    lines_that_fit,
    masked_link,
    shares,
    source_line,
    trim,
)
from briefings.briefing import Briefing, CitedSentence, IssueStatus, IssueUpdate
from briefings.catalogue import Issue, name_key
from briefings.chart import entry_key, timeline_letters
from briefings.render import status_line

log = logging.getLogger(__name__)

# Our budgets inside Discord's limits (characters as sent, escapes included).
ISSUE_TITLE_MAX = 200
ISSUE_DESCRIPTION_MAX = 600
STANDING_MAX = 1200
TIMELINE_MAX = 2400
TIMELINE_SENTENCE_MAX = 300  # a timeline entry is a one-liner
POSITION_SENTENCE_MAX = 500
SOURCES_MAX = 1200
SOURCE_TITLE_MAX = 150
PARTIES_SHOWN = 10
MIN_QUOTE = 60  # less than this says too little: show fewer sentences and count the rest
STATUS_LINE_MAX = 240
UPDATE_QUOTE_MAX = 600  # a new sentence is quoted whole when the room allows
DEVELOPMENTS_MAX = 600
TOPIC_SHOWN_MAX = 60
SLACK = 20  # characters kept spare under the 6,000 total

NO_POSITION = "*No stated position in the articles.*"
STANDING = "Where it stands"
HANDLE_MAX = 60  # the opening words of a timeline sentence quoted above
NOT_MENTIONED = "No article mentions this issue yet."
BRIEFING_FOOTER = "Quoted word for word from the articles · /issues list shows every issue"
STATUSES_FOOTER = "/issue <topic> shows where an issue stands, who wants what, and when"
NO_UPDATES = "Nothing new since your last check: no issue gained developments."
WHATSNEW_FOOTER = "Since your own last /whatsnew · only you see this · /issue <topic> for more"
WHATSNEW_FIELDS = 20
WHATSNEW_ROOM_MIN = 250  # characters an issue needs to say anything: fewer issues shown, whole
NO_DEVELOPMENTS = "No issue gained new developments."
DEVELOPMENTS_FAILED = "(Could not check the issues for new developments; the log has details.)"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _one_line(text: str) -> str:
    """The sentence's words with its line breaks as spaces, so each quote is one line."""
    return " ".join(text.split())


# -- quotes sharing a budget --------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """One line of a section: fixed text (already escaped) around a verbatim sentence."""

    prefix: str
    text: str  # the sentence as in the article; escaped and trimmed when rendered
    suffix: str
    cap: int  # most characters the sentence may take

    @property
    def wanted(self) -> int:
        return min(len(escape(_one_line(self.text))), self.cap)

    @property
    def fixed(self) -> int:
        return len(self.prefix) + len(self.suffix) + 1  # + the line break


def wanted_room(quotes: Sequence[Quote]) -> int:
    """Characters the quotes take when nothing has to be cut (beyond each one's cap)."""
    return sum(q.fixed + q.wanted for q in quotes)


def quote_lines(quotes: Sequence[Quote], room: int, hidden_noun: str) -> str:
    """The quotes one per line within ``room`` characters, each sentence getting a fair share.
    When even a short share is too little, the earliest quotes are left out and counted on a
    first line ("…2 earlier statements not shown")."""
    if not quotes:
        return ""
    shown = list(quotes)
    while True:
        hidden = len(quotes) - len(shown)
        note = f"*…{_plural(hidden, 'earlier ' + hidden_noun)} not shown*" if hidden else ""
        left = room - sum(q.fixed for q in shown) - (len(note) + 1 if note else 0)
        enough = min(MIN_QUOTE, *(q.wanted for q in shown))
        if len(shown) == 1 or left >= enough * len(shown):
            break
        shown = shown[1:]
    budgets = shares([q.wanted for q in shown], left)
    lines = [note] if note else []
    lines += [
        q.prefix + fit(_one_line(q.text), b) + q.suffix for q, b in zip(shown, budgets, strict=True)
    ]
    # Only a room too small for the markers themselves needs this last cut.
    return "\n".join(lines)[: max(room, 0)]


# -- /issue -------------------------------------------------------------------------------------


def citation_numbers(briefing: Briefing) -> dict[str, int]:
    """One number per article, in order of first use (as ``tradetalk issue`` numbers them)."""
    numbers: dict[str, int] = {}
    for sentence in briefing.citations:
        numbers.setdefault(sentence.article_id, len(numbers) + 1)
    return numbers


def _sources(briefing: Briefing, numbers: dict[str, int]) -> str:
    """Numbered sources, one line each: the title linked to the article, outlet, date, and
    the outlets of copies."""
    first: dict[str, CitedSentence] = {}
    copies: dict[str, dict[str, None]] = {}
    for sentence in briefing.citations:
        first.setdefault(sentence.article_id, sentence)
        copies.setdefault(sentence.article_id, {}).update(
            dict.fromkeys(source for _, source in sentence.also_in)
        )
    lines: list[str] = []
    used = 0
    budget = SOURCES_MAX - 40  # room for the "…and N more" line
    for n, (article_id, s) in enumerate(first.items()):
        number = f"**[{numbers[article_id]}]** "
        line = number + source_line(s.title, s.source, s.date, s.url, title_max=SOURCE_TITLE_MAX)
        if copies[article_id]:
            line += " (also in " + fit(", ".join(copies[article_id]), 200) + ")"
        if len(line) > 700:  # only hostile metadata gets here: keep the outlet's name
            line = number + fit(s.source, 150)
        if used + len(line) + 1 > budget:
            lines.append(f"…and {len(first) - n} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


Key = tuple[str, str]


def _key(sentence: CitedSentence) -> Key:
    return sentence.article_id, " ".join(sentence.text.split())


def _first_quoted(briefing: Briefing, parties: Sequence[tuple[str, str]]) -> dict[Key, str]:
    """The section that quotes each sentence: a sentence is quoted once, in the first section
    that has it (where it stands, then each party's positions, then the timeline); later
    sections point back to it."""
    where: dict[Key, str] = {}
    for sentence in briefing.standing:
        where.setdefault(_key(sentence), STANDING)
    for party, name in parties:
        for position in briefing.positions_of(party):
            where.setdefault(_key(position.sentence), f"Positions: {name}")
    return where


def _pointer(section: str) -> str:
    return f"*quoted under {section}*"


# A news dateline before the first words: "WASHINGTON (Continental Press) — ".
_DATELINE = re.compile(r"^[A-Z][A-Z .,'-]{2,40}(?:\([^)]{1,60}\))?\s*[—–-]+\s*")


def _handle(text: str, limit: int = HANDLE_MAX) -> str:
    """The opening words of a sentence quoted above, to recognise it by in the timeline."""
    words = _DATELINE.sub("", _one_line(text))
    return "“" + fit(words, limit) + ("”" if len(words) <= limit else "")


def _position_quotes(
    briefing: Briefing, party: str, name: str, numbers: dict[str, int], where: dict[Key, str]
) -> list[Quote]:
    quotes = []
    section = f"Positions: {name}"
    for p in briefing.positions_of(party):
        speaker = f" — {fit(p.speaker, 80)}" if p.speaker else ""
        number = f" [{numbers[p.sentence.article_id]}]"
        quoted = where.get(_key(p.sentence), section)
        if quoted != section:
            stance = f"{fit(p.stance, 40)} — " if p.stance else ""
            quotes.append(Quote("• ", "", f"*{stance}quoted under {quoted}*" + number + speaker, 0))
        else:
            quotes.append(Quote("• ", p.sentence.text, number + speaker, POSITION_SENTENCE_MAX))
    return quotes


def _timeline_quotes(
    briefing: Briefing, numbers: dict[str, int], where: dict[Key, str]
) -> list[Quote]:
    """One line per development, lettered as the picture's dots are (A, B, …)."""
    letters = timeline_letters(briefing)
    names = dict(briefing.parties)
    quotes = []
    for e in briefing.timeline:
        letter = letters.get(entry_key(e))
        lead = f"**{letter}** · " if letter else ""
        prefix = f"{lead}**{e.date or 'undated'}** · "
        number = f" [{numbers[e.sentence.article_id]}]"
        quoted = where.get(_key(e.sentence))
        if quoted:
            # Quoted above: who, and its opening words to know it by, not the sentence again.
            who = ", ".join(fit(names.get(p, p), 40) for p in e.parties)
            handle = (f"{who}: " if who else "") + _handle(e.sentence.text)
            quotes.append(Quote(prefix, "", f"{handle} *(above)*{number}", 0))
        else:
            quotes.append(Quote(prefix, e.sentence.text, number, TIMELINE_SENTENCE_MAX))
    return quotes


def briefing_embeds(briefing: Briefing, image: str | None = None) -> list[discord.Embed]:
    """The briefing on one issue: the briefing, its timeline and its sources (one embed each),
    within Discord's limits for a single message. ``image`` (an ``attachment://`` URL) is the
    timeline picture, shown in the timeline embed."""
    issue = briefing.issue
    title = fit(issue.title, ISSUE_TITLE_MAX)
    about = fit(_one_line(issue.description), ISSUE_DESCRIPTION_MAX)
    if not briefing.mentioned:
        embed = discord.Embed(
            title=title, description=f"{about}\n\n{NOT_MENTIONED}", colour=ANSWER_COLOUR
        )
        embed.set_footer(text=BRIEFING_FOOTER)
        return [embed]

    numbers = citation_numbers(briefing)
    head = f"{about}\n*Mentioned in {_plural(briefing.article_count, 'article')}.*"
    head += f"\n\n**{STANDING}**\n" if briefing.standing else ""
    standing = [
        Quote("> ", s.text, f" [{numbers[s.article_id]}]", STANDING_MAX) for s in briefing.standing
    ]
    parties = briefing.parties[:PARTIES_SHOWN]
    hidden_parties = len(briefing.parties) - len(parties)
    field_names = [fit(f"Positions: {name}", 100) for _, name in parties]
    where = _first_quoted(briefing, parties)
    positions = [_position_quotes(briefing, party, name, numbers, where) for party, name in parties]
    timeline = _timeline_quotes(briefing, numbers, where)
    sources = _sources(briefing, numbers)
    more_parties = f"…and {_plural(hidden_parties, 'more party')}" if hidden_parties else ""

    fixed = (
        len(title)
        + len(head)
        + sum(map(len, field_names))
        + len("Timeline")
        + len("Sources")
        + len(sources)
        + len(BRIEFING_FOOTER)
        + (len("More parties") + len(more_parties) if more_parties else 0)
        + sum(len(NO_POSITION) for quotes in positions if not quotes)
    )
    # Each section wants its whole text, up to what its part of an embed can hold; they share
    # what the 6,000-character total leaves.
    filled = [quotes for quotes in positions if quotes]
    sections = [standing, *filled, timeline]
    caps = [
        min(STANDING_MAX, DESCRIPTION_MAX - len(head)),
        *[FIELD_VALUE_MAX] * len(filled),
        TIMELINE_MAX,
    ]
    wanted = [min(wanted_room(q), cap) for q, cap in zip(sections, caps, strict=True)]
    standing_room, *party_rooms, timeline_room = shares(wanted, EMBED_TOTAL_MAX - SLACK - fixed)

    main = discord.Embed(
        title=title,
        description=head + quote_lines(standing, standing_room, "sentence"),
        colour=ANSWER_COLOUR,
    )
    rooms = iter(party_rooms)
    for name, quotes in zip(field_names, positions, strict=True):
        value = quote_lines(quotes, next(rooms), "statement") if quotes else NO_POSITION
        main.add_field(name=name, value=value or NO_POSITION, inline=False)
    if more_parties:
        main.add_field(name="More parties", value=more_parties, inline=False)
    embeds = [main]
    if timeline:
        lines = quote_lines(timeline, timeline_room, "development")
        timeline_embed = discord.Embed(title="Timeline", description=lines, colour=ANSWER_COLOUR)
        if image:
            timeline_embed.set_image(url=image)
        embeds.append(timeline_embed)
    last = discord.Embed(title="Sources", description=sources, colour=ANSWER_COLOUR)
    last.set_footer(text=BRIEFING_FOOTER)
    embeds.append(last)
    return within_total(embeds)


def within_total(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """The embeds cut to Discord's 6,000-character total. The budgets above are meant to keep
    them inside it; should they ever miss, the longest descriptions are cut (and the miss
    logged) rather than Discord refusing the whole briefing. A real check, not an assert:
    ``python -O`` would drop one."""
    over = sum(embed_size(e) for e in embeds) - EMBED_TOTAL_MAX
    if over > 0:
        log.warning("briefing %d characters over Discord's total; cutting it", over)
    while over > 0:
        longest = max(embeds, key=lambda e: len(e.description or ""))
        text = longest.description or ""
        if not text:  # nothing left to cut but titles and fields: drop the last embed
            embeds = embeds[:-1] if len(embeds) > 1 else embeds
            break
        longest.description = trim(text, max(len(text) - over, 0))
        over = sum(embed_size(e) for e in embeds) - EMBED_TOTAL_MAX
    return embeds


def unknown_issue_text(topic: str, suggestions: Sequence[Issue]) -> str:
    """ "No such issue 'x'. Did you mean …?" (or where to find the issues)."""
    shown = fit(_one_line(topic), TOPIC_SHOWN_MAX) or "(empty)"
    if not suggestions:
        return f"No such issue '{shown}'. /issues list shows every issue I brief on."
    names = [f"**{fit(s.title, 100)}** (`{s.id}`)" for s in suggestions[:5]]
    return fit(
        f"No such issue '{shown}'. Did you mean {' or '.join(names)}?", CONTENT_MAX, escaped=False
    )


def issue_choices(
    issues: Sequence[Issue], typed: str, limit: int = CHOICES_MAX
) -> list[discord.app_commands.Choice[str]]:
    """Autocomplete choices: each issue's title, plus the name typed when it is an alias
    ("Dairy and supply management (milk)"); the value is the issue id."""
    key = name_key(typed)
    choices = []
    for issue in issues[:limit]:
        alias = next((a for a in issue.aliases if key and name_key(a).startswith(key)), None)
        matched_title = key and (
            name_key(issue.title).startswith(key) or name_key(issue.id).startswith(key)
        )
        suffix = f" ({trim(alias, 40)})" if alias and not matched_title else ""
        name = trim(issue.title, CHOICE_NAME_MAX - len(suffix)) + suffix
        choices.append(discord.app_commands.Choice(name=name, value=issue.id))
    return choices


# -- /issues ------------------------------------------------------------------------------------


def statuses_embed(statuses: Sequence[IssueStatus]) -> discord.Embed:
    """Every issue: title, id, how many articles mention it and its latest sentence."""
    embed = discord.Embed(title=f"Negotiation issues ({len(statuses)})", colour=ANSWER_COLOUR)
    embed.set_footer(text=STATUSES_FOOTER)
    if not statuses:
        embed.description = "The issue catalogue is empty."
        return embed
    embed.description = lines_that_fit(
        f"**{fit(s.issue.title, 100)}** (`{s.issue.id}`) · {_plural(s.article_count, 'article')}\n"
        f"{fit(_one_line(status_line(s)), STATUS_LINE_MAX)}"
        for s in statuses
    )
    return embed


# -- /whatsnew, /ingest, /reindex ---------------------------------------------------------------


def whatsnew_embed(
    updates: Sequence[IssueUpdate], chosen: Mapping[str, CitedSentence] | None = None
) -> discord.Embed:
    """The issues with new developments since this member's last check: per issue, how many
    new sentences, and the one most about it (`chosen`, by issue id; default the newest)
    quoted whole where the room allows, its article linked."""
    embed = discord.Embed(title="New since your last check", colour=ANSWER_COLOUR)
    embed.set_footer(text=WHATSNEW_FOOTER)
    if not updates:
        embed.description = NO_UPDATES
        return embed
    embed.description = f"{_plural(len(updates), 'issue')} gained developments."
    room = EMBED_TOTAL_MAX - SLACK - len(embed.title or "") - len(embed.description)
    room -= len(WHATSNEW_FOOTER) + len("More issues") + 300  # the list of the issues not shown
    count = max(1, min(len(updates), WHATSNEW_FIELDS, room // WHATSNEW_ROOM_MIN))
    shown, hidden = updates[:count], updates[count:]
    each = room // count
    names, heads, quotes = [], [], []
    for update in shown:
        sentence = (chosen or {}).get(update.issue.id) or update.sentences[-1]
        count_text = " · " + _plural(len(update.sentences), "new sentence")
        names.append(fit(update.issue.title, min(200, each // 5) - len(count_text)) + count_text)
        when = f", {sentence.date}" if sentence.date else ""
        source = fit(sentence.source, min(80, each // 8))
        link = masked_link(sentence.title, sentence.url, min(300, each // 3))
        heads.append(f"— {link}, {source}{when}")
        quotes.append(Quote("> ", sentence.text, "", UPDATE_QUOTE_MAX))
    more = fit(", ".join(u.issue.title for u in hidden), 290) if hidden else ""
    used = sum(map(len, names)) + sum(len(h) + 1 for h in heads)
    wanted = [
        min(q.wanted + q.fixed, FIELD_VALUE_MAX - len(h) - 1)
        for q, h in zip(quotes, heads, strict=True)
    ]
    for name, head, quote, share in zip(
        names, heads, quotes, shares(wanted, room - used), strict=True
    ):
        text = quote_lines([quote], share, "sentence") if share >= MIN_QUOTE // 2 else ""
        embed.add_field(name=name, value=f"{text}\n{head}" if text else head, inline=False)
    if more:
        embed.add_field(name="More issues", value=more, inline=False)
    return within_total([embed])[0]


def developments_line(updates: Sequence[IssueUpdate] | None) -> str:
    """One line for the /ingest and /reindex replies: which issues gained developments."""
    if updates is None:
        return DEVELOPMENTS_FAILED
    if not updates:
        return NO_DEVELOPMENTS
    names = ", ".join(
        f"{u.issue.title} ({_plural(len(u.sentences), 'new sentence')})" for u in updates
    )
    return "New developments on: " + fit(names, DEVELOPMENTS_MAX) + ". See /whatsnew or /issue."


def with_developments(text: str, updates: Sequence[IssueUpdate] | None) -> str:
    """``text`` (already fit for Discord) followed by `developments_line`, within one message."""
    line = developments_line(updates)
    return trim(text, CONTENT_MAX - len(line) - 1) + "\n" + line
