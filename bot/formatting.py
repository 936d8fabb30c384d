"""Answers, article lists and notices as Discord messages: pure functions, no I/O.

Everything here stays inside Discord's limits whatever the article text holds (a 5,000-character
sentence, dozens of citations, code fences, ``@everyone``): long text is cut at a sentence
boundary (or, inside one long sentence, between words) and marked with an ellipsis. Article and
question text is escaped so Markdown and mentions in it show as written instead of changing the
layout; the words themselves are kept.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence

import discord
from discord.utils import escape_markdown, escape_mentions

from retrieval.records import ArticleInfo
from tenancy.server_settings import EffectiveSettings, ServerSettings
from tradetalk.answer import Answer, Citation
from tradetalk.engine import IngestResult
from tradetalk.follow_ups import ONLY_REPEATS
from tradetalk.render import paragraph_label, sentence_with_dates, shown_library

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
CHOICE_NAME_MAX = 100
CHOICES_MAX = 25

# Our own budgets inside those limits, so one part can't crowd out the others.
ANSWER_DESCRIPTION_MAX = 2000
CITATIONS_SHOWN = 10
SENTENCES_SHOWN = 10  # the engine picks at most 3; the cap only matters for hostile input
ELLIPSIS = " …"

ANSWER_COLOUR = discord.Colour.blurple()
ANSWER_FOOTER = "Quoted word for word from the articles · reply to follow up · rate it below"

# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by white space.
_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*(?=\s)")
_SPACE = re.compile(r"\s")


def trim(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters; otherwise cut at the last sentence end that
    keeps at least half the room (else the last space) and marked " …". Only a single word
    longer than the limit is ever cut inside the word."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[: max(limit, 0)]
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]  # one more, so a boundary right at the limit still counts
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= room]
    if sentence_ends and sentence_ends[-1] >= room // 2:
        cut = sentence_ends[-1]
    else:
        spaces = [m.start() for m in _SPACE.finditer(head)]
        cut = spaces[-1] if spaces and spaces[-1] > 0 else room
    return text[:cut].rstrip() + ELLIPSIS


# Bidi embedding, override and isolate controls: inside a quote they would reorder the rest of
# the line, citation numbers included. They carry no words, so dropping them keeps the quote.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Mentions escape_mentions leaves alone: channels, slash commands, timestamps. They ping nobody
# but would render as links; a zero-width space after "<" shows them as written.
_OTHER_MENTIONS = re.compile(r"<(?=#\d+>|/[^<>\n]+:\d+>|t:-?\d+(?::[tTdDfFR])?>|id:\w+>)")
# Headings, quotes and list items escape_markdown misses: indented ones, and those after a blank
# line (its "^\s*-" pattern starts on the blank line and escapes that instead).
_LINE_START_MARKUP = re.compile(r"^([ \t]*)(?=[#>-])", re.M)


def escape(text: str) -> str:
    """Show Markdown and mentions literally (backslashes and zero-width spaces are invisible)."""
    # escape_markdown's masked-link pattern is greedy: given "[a](x) ``` [b](y)" it escapes the
    # first bracket only and leaves everything up to the last ")" as it was. Escaping the pieces
    # between brackets, it never sees one.
    pieces = _BIDI_CONTROLS.sub("", text).split("[")
    text = _LINE_START_MARKUP.sub(r"\1\\", "\\[".join(escape_markdown(p) for p in pieces))
    return _OTHER_MENTIONS.sub("<\u200b", escape_mentions(text))


def fit(text: str, limit: int, *, escaped: bool = True) -> str:
    """``text`` trimmed so that, once escaped, it is at most ``limit`` characters."""
    if not escaped:
        return trim(text, limit)
    text = _BIDI_CONTROLS.sub("", text)  # escape() drops them: don't spend the limit on them
    budget = limit
    while True:
        out = escape(trim(text, budget))
        if len(out) <= limit or budget <= 0:
            return out[:limit] if len(out) > limit else out
        # Escaping added characters: shrink the raw budget by the overshoot and try again.
        budget -= max(len(out) - limit, 1)


def safe_url(url: str | None) -> str | None:
    """An http(s) link that can't break out of Markdown, or None."""
    if not url or not re.match(r"^https?://[^\s<>]+$", url.strip(), re.I):
        return None
    return url.strip().replace("(", "%28").replace(")", "%29")


def outlet_line(source: str, date: str | None, url: str | None) -> str:
    """``Outlet · 2018-09-11 · <link>`` (escaped; the link stays clickable)."""
    parts = [escape(source)] + ([date] if date else [])
    link = safe_url(url)
    if link:
        parts.append(f"<{link}>")
    return " · ".join(parts)


def masked_link(text: str, url: str | None, limit: int) -> str:
    """``[text](url)``: the words link to the article without showing its long address; the
    escaped text alone when the link is not a plain http(s) one. At most `limit` characters;
    an address too long for the room drops the link rather than the words."""
    text = " ".join(text.split())  # link text is one line
    link = safe_url(url)
    if link is None or len(link) + 4 + 8 > limit:
        return fit(text, limit)
    words = fit(text, limit - len(link) - 4).replace("]", "\\]")
    if len(words) + len(link) + 4 > limit:  # escaped brackets pushed it over: cut once more
        words = fit(text, max(limit - len(link) - 4 - text.count("]"), 8)).replace("]", "\\]")
    return f"[{words}]({link})"


def source_line(
    title: str, source: str, date: str | None, url: str | None, *, title_max: int = 150
) -> str:
    """``[Title](link) — Outlet, 2018-09-11``: the title carries the link."""
    when = f", {date}" if date else ""
    return f"{masked_link(title, url, title_max + 520)} — {fit(source, 120)}{when}"


def shares(wanted: Sequence[int], room: int) -> list[int]:
    """``room`` characters split among parts wanting ``wanted`` each: a part wanting less than
    an even share gets all it wants, and what it leaves is split among the longer ones."""
    given = [0] * len(wanted)
    for left, i in enumerate(sorted(range(len(wanted)), key=lambda i: wanted[i])):
        given[i] = min(wanted[i], max(room, 0) // (len(wanted) - left))
        room -= given[i]
    return given


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6,000 limit."""
    total = len(embed.title or "") + len(embed.description or "")
    total += len(embed.footer.text or "") + len(embed.author.name or "")
    return total + sum(len(f.name or "") + len(f.value or "") for f in embed.fields)


# -- answers ------------------------------------------------------------------------------------


def answer_body(answer: Answer, limit: int = ANSWER_DESCRIPTION_MAX) -> str:
    """The verbatim sentences, relative dates resolved, each followed by its citation number.
    Each sentence is trimmed on its own, so every one keeps its number; short sentences leave
    their unused share to long ones."""
    sentences = answer.sentences[:SENTENCES_SHOWN]
    parts = [(sentence_with_dates(s), f" [{s.citation}]") for s in sentences]
    # A broad question's points go one a line, each with its article's date, newest first.
    leads = [f"• {s.published or 'undated'}: " if answer.points else "" for s in sentences]
    overhead = [len(marker) + 1 + len(lead) for (_, marker), lead in zip(parts, leads, strict=True)]
    room = limit - sum(overhead)
    budgets = shares([len(escape(text)) for text, _ in parts], room)
    joiner = "\n" if answer.points else " "
    return joiner.join(
        lead + fit(text, budgets[i]) + marker
        for i, ((text, marker), lead) in enumerate(zip(parts, leads, strict=True))
    )


def _citation_field(
    citation: Citation, name_max: int, value_max: int, library: str | None = None
) -> tuple[str, str]:
    """``[1] Outlet, 2018-09-11`` over the article's title, linked to it, and which of its
    paragraphs were quoted. The passages themselves are one button away ("Show passages"):
    under the answer they only repeated its sentences."""
    prefix = f"[{citation.number}] "
    when = f", {citation.date}" if citation.date else ""
    name = prefix + fit(citation.source, max(name_max - len(prefix) - len(when), 8)) + when
    notes = []
    if citation.paragraphs:  # "¶5", or "headline" for a title quoted
        notes.append(", ".join(paragraph_label(n) for n in citation.paragraphs))
    if citation.also_in:
        count = len(citation.also_in)
        notes.append(f"also in {count} other article{'s' if count != 1 else ''}")
    if library:  # a server's question reads its own library and the global one: which
        notes.append(f"from {library}")
    tail = (" · " + " · ".join(notes)) if notes else ""
    if len(tail) > value_max // 2:  # only hostile metadata gets here
        tail = ""
    value = masked_link(citation.title, citation.url, value_max - len(tail)) + tail
    return name[:name_max], value


def answer_embed(answer: Answer) -> discord.Embed:
    """A cited answer: the sentences, then one field per source (outlet and date over the
    linked title)."""
    embed = discord.Embed(
        title=fit(answer.question, TITLE_MAX),
        description=answer_body(answer),
        colour=ANSWER_COLOUR,
    )
    embed.set_footer(text=ANSWER_FOOTER)
    shown = answer.citations[:CITATIONS_SHOWN]
    hidden = len(answer.citations) - len(shown)
    note = f"…and {hidden} more source{'s' if hidden != 1 else ''}" if hidden else ""
    if shown:
        room = EMBED_TOTAL_MAX - embed_size(embed) - len(note) - 50
        per_field = min(FIELD_NAME_MAX + FIELD_VALUE_MAX, room // len(shown))
        name_max = min(FIELD_NAME_MAX, per_field // 3)
        value_max = min(FIELD_VALUE_MAX, per_field - name_max)
        for citation in shown:
            library = shown_library(answer, citation.article_id)
            name, value = _citation_field(citation, name_max, value_max, library)
            embed.add_field(name=name, value=value, inline=False)
    if note:
        embed.add_field(name="More sources", value=note, inline=False)
    return embed


NOTHING_MORE = (
    "My articles say nothing more on that than my answer above: none of them gives more "
    "than the sentences you just read."
)


def not_covered_text(answer: Answer, suggestion: str | None = None) -> str:
    """The plain reply when the articles don't answer the question: what they do cover, and
    a question they can answer (checked by asking it) to try instead."""
    text = NOTHING_MORE if answer.reason == ONLY_REPEATS else answer.not_covered_message
    if not suggestion:
        return fit(text, CONTENT_MAX)
    tail = f"\nTry asking: “{fit(suggestion, 300)}”"
    return fit(text, CONTENT_MAX - len(tail)) + tail


# -- articles -----------------------------------------------------------------------------------


def _date_range(articles: Sequence[ArticleInfo]) -> str:
    dates = sorted(a.date for a in articles if a.date)
    if not dates:
        return ""
    return f"dated {dates[0]}" if dates[0] == dates[-1] else f"dated {dates[0]} to {dates[-1]}"


def lines_that_fit(lines: Iterable[str], limit: int = DESCRIPTION_MAX) -> str:
    """As many whole lines as fit in `limit` characters, then "…and N more" for the rest
    (lists of articles, issues or audit entries in one embed description)."""
    lines = list(lines)
    kept: list[str] = []
    used = 0
    budget = limit - 60  # room for the "…and N more" line
    for n, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            kept.append(f"…and {len(lines) - n} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


SOURCES_PER_PAGE = 12


def source_pages(articles: Sequence[ArticleInfo]) -> list[list[str]]:
    """The article lines of /sources, a page each of at most `SOURCES_PER_PAGE` lines that fit
    in one embed description."""
    lines = [
        "• "
        + source_line(a.title, a.source, a.date, a.url, title_max=200)
        + (" · added in this server" if a.library == "server" else "")
        for a in articles
        if not a.duplicate_of
    ]
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = line if len(line) <= DESCRIPTION_MAX // 4 else fit(line, DESCRIPTION_MAX // 4)
        if pages[-1] and (
            len(pages[-1]) == SOURCES_PER_PAGE or used + len(line) + 1 > DESCRIPTION_MAX - 100
        ):
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line) + 1
    return pages


def sources_embed(articles: Sequence[ArticleInfo], page: int = 0) -> discord.Embed:
    """One page of the articles, each with its linked title, outlet and date; newest last.
    The buttons of `sources_view` turn the pages."""
    originals = [a for a in articles if not a.duplicate_of]
    copies = len(articles) - len(originals)
    count = f"{len(originals)} article{'s' if len(originals) != 1 else ''}"
    embed = discord.Embed(title=f"Sources ({count})", colour=ANSWER_COLOUR)
    if not originals:
        embed.description = "I have no articles yet; an admin can add some with /ingest."
        return embed
    pages = source_pages(articles)
    page = min(max(page, 0), len(pages) - 1)
    embed.description = "\n".join(pages[page])
    notes = []
    if len(pages) > 1:
        notes.append(f"Page {page + 1} of {len(pages)}")
    if copies:
        notes.append(f"near-copies of listed articles not shown: {copies}")
    if notes:
        embed.set_footer(text=" · ".join(notes))
    return embed


DIRECT_NOTE = (
    "In direct messages I answer from the global library only; in a server I also read the "
    "articles that server's admins added."
)


def about_embed(
    articles: Sequence[ArticleInfo], issues: Sequence[str], *, direct: bool = False
) -> discord.Embed:
    """What the bot covers and how to ask it; `direct` for a direct message (the global
    library only)."""
    originals = [a for a in articles if not a.duplicate_of]
    count = f"{len(originals)} news article{'s' if len(originals) != 1 else ''}"
    span = _date_range(originals)
    covers = f"I answer questions about trade talks from **{count}**{' ' + span if span else ''}."
    lines = [covers]
    own = sum(1 for a in originals if a.library == "server")
    if direct:
        lines.append(DIRECT_NOTE)
    elif own:
        lines.append(f"{own} of them were added by this server's admins; the others are shared.")
    if issues:
        lines.append("Issues covered: " + fit(", ".join(issues), 1000) + ".")
    lines += [
        "",
        "**How to ask**",
        "• Mention me with a question: `@TradeTalk what is blocking the deal?`",
        '• Reply to one of my answers to follow up ("and what about dairy?"), or press '
        "**Ask a follow-up** under it for a thread where every message is a question.",
        "• **Show passages** under an answer shows you the paragraphs it quotes.",
        "• Or use `/ask`. `/sources` lists the articles.",
        "",
        "Answers quote the articles word for word, with numbered sources. If the articles "
        "don't cover something, I say so rather than guess. Rate answers with 👍 / 👎.",
    ]
    return discord.Embed(
        title="About TradeTalk", description="\n".join(lines), colour=ANSWER_COLOUR
    )


def article_label(article: ArticleInfo, limit: int = CHOICE_NAME_MAX) -> str:
    """``Title (2018-10-02)`` within ``limit`` characters, for autocomplete choices."""
    date = f" ({article.date})" if article.date else ""
    return trim(article.title, limit - len(date)) + date


def removable_choices(
    articles: Sequence[ArticleInfo], typed: str, limit: int = CHOICES_MAX
) -> list[discord.app_commands.Choice[str]]:
    """Added (not bundled) articles whose id or title contains what was typed, newest first."""
    needle = typed.strip().lower()
    matches = [
        a
        for a in articles
        if not a.bundled
        and len(a.id) <= CHOICE_NAME_MAX
        and (needle in a.id.lower() or needle in a.title.lower())
    ]
    matches.sort(key=lambda a: (a.date or "", a.id), reverse=True)
    return [discord.app_commands.Choice(name=article_label(a), value=a.id) for a in matches[:limit]]


def ingest_text(result: IngestResult, issues: Sequence[str]) -> str:
    """What an admin sees after /ingest: which article, how many passages, which issues."""
    a = result.article
    what = f"“{fit(a.title, 300)}” ({outlet_line(a.source, a.date, None)}, id `{a.id}`)"
    if result.status == "unchanged":
        return fit(f"Already have {what}; nothing changed.", CONTENT_MAX, escaped=False)
    verb = "Added" if result.status == "added" else "Updated"
    lines = [f"{verb} {what}: {a.passage_count} passages, answerable now."]
    lines.append(
        "Known issues it touches: " + (fit(", ".join(issues), 500) if issues else "none") + "."
    )
    if result.duplicate_of is not None:
        d = result.duplicate_of
        lines.append(f"Note: it is a near-copy of “{fit(d.title, 300)}” (id `{d.id}`).")
    return fit("\n".join(lines), CONTENT_MAX, escaped=False)


def removed_text(article: ArticleInfo) -> str:
    text = f"Removed “{fit(article.title, 300)}” (id `{article.id}`); answers no longer cite it."
    return fit(text, CONTENT_MAX, escaped=False)


# -- settings -----------------------------------------------------------------------------------


def _ids_text(ids: Iterable[int], mention: str, empty: str) -> str:
    shown = [mention.format(i) for i in sorted(ids)]
    return ", ".join(shown) if shown else empty


def settings_summary(stored: ServerSettings) -> str:
    """One line for the audit log: what the server set (the rest follows the defaults)."""
    parts = []
    if stored.channel_ids is not None:
        parts.append("channels=" + (",".join(map(str, stored.channel_ids)) or "all"))
    if stored.admin_role_ids is not None:
        parts.append("admin_roles=" + (",".join(map(str, stored.admin_role_ids)) or "none"))
    if stored.cooldown_rate is not None or stored.cooldown_seconds is not None:
        parts.append(f"cooldown={stored.cooldown_rate or '-'}/{stored.cooldown_seconds or '-'}s")
    return "; ".join(parts) or "all defaults"


def settings_embed(stored: ServerSettings, effective: EffectiveSettings) -> discord.Embed:
    """The settings that apply in this server, each marked as set here or the default."""

    def origin(value: object) -> str:
        return " *(set here)*" if value is not None else " *(default)*"

    lines = [
        "**Where I answer** (mentions and /ask): "
        + _ids_text(effective.channel_ids, "<#{}>", "every channel")
        + origin(stored.channel_ids),
        "**Admin roles** (besides Manage Server): "
        + _ids_text(effective.admin_role_ids, "<@&{}>", "none")
        + origin(stored.admin_role_ids),
        f"**Cooldown**: {effective.cooldown_rate} questions per member every "
        f"{effective.cooldown_seconds:g} s"
        + origin(
            stored.cooldown_rate if stored.cooldown_rate is not None else stored.cooldown_seconds
        ),
        "",
        "Change one with `/settings channels:`, `admin_roles:`, `cooldown_questions:`, "
        "`cooldown_seconds:`; `reset:` goes back to the defaults.",
    ]
    return discord.Embed(
        title="Settings for this server",
        description=lines_that_fit(lines, DESCRIPTION_MAX),
        colour=ANSWER_COLOUR,
    )


# -- notices ------------------------------------------------------------------------------------


def elsewhere_text(channel_ids: Sequence[int]) -> str:
    """/ask in a channel the server's settings leave out."""
    where = ", ".join(f"<#{c}>" for c in channel_ids[:20])
    return fit(
        f"In this server I answer in {where} only (the admins chose them with /settings).",
        CONTENT_MAX,
        escaped=False,
    )


def cooldown_text(retry_after: float, now: float | None = None) -> str:
    """The wait as Discord's relative timestamp ("in 25 seconds", counting down as the
    member reads it)."""
    at = math.ceil((time.time() if now is None else now) + max(retry_after, 1.0))
    return f"You're asking faster than I can keep up with; please try again <t:{at}:R>."


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def nothing_to_reindex(shared: int) -> str:
    """/reindex in a server with no articles of its own."""
    return (
        "This server has no articles of its own yet, so there is nothing of its own to "
        f"reindex. Questions here read the {_count(shared, 'shared article')} of the global "
        "library, which its owner reindexes (`/global reindex`). Add this server's own "
        "articles with `/ingest` or `/follow`."
    )


def reindexed_text(
    seconds: float, *, passages: int, articles: int, version: str, server: bool, shared: int = 0
) -> str:
    """What /reindex (or /global reindex) rebuilt, and what it left alone."""
    whose = "this server's" if server else "the global library's"
    text = (
        f"Reindex finished in {seconds:.1f} s: {whose} {_count(articles, 'article')}, "
        f"{_count(passages, 'passage')} (index {version})."
    )
    if server and shared:
        verb = "is" if shared == 1 else "are"
        text += (
            f" The {_count(shared, 'shared article')} of the global library {verb} its "
            "owner's to reindex (`/global reindex`)."
        )
    return text


def progress_text(done: int, total: int) -> str:
    if total <= 0:
        return "Reindexing all articles… reading them now. Questions are still answered meanwhile."
    percent = 100 * done // total
    return (
        f"Reindexing all articles… {done:,}/{total:,} passages embedded ({percent}%). "
        "Questions are still answered from the current index meanwhile."
    )
