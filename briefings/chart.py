"""The timeline picture of a briefing: each dated development a dot on a time axis, one row per
party (the parties whose stance the sentence states; the rest under "Reported"), newest on the
right. The developments the briefing's timeline lists carry its letters (A, B, …), so the
picture and the text beside it read together; letters, so they never look like the sources'
numbers [1], [2].

Made for where Discord shows it: an embed image about 440 px wide, often on a dark theme. It
is drawn at twice that width with every text at least `MIN_DISPLAY_PX` pixels tall once shown
at 440 px, on a dark card (no white box in dark mode; a dark card reads in light mode too).
Dots on the same day and row are stacked, not drawn over each other, so the count the picture
states is the count it shows.

Drawn with matplotlib's object API on an Agg canvas: no pyplot global state, no display, safe
in the bot's worker threads."""

from __future__ import annotations

import datetime as dt
import io
import string
import warnings
from collections import defaultdict

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from briefings.briefing import Briefing, TimelineEntry

DISPLAY_WIDTH = 440  # pixels Discord gives an embed's image
SCALE = 2  # drawn at twice that, for sharp text on high-density screens
DPI = 100 * SCALE
WIDTH = DISPLAY_WIDTH * SCALE
MIN_DISPLAY_PX = 11  # the smallest text, in pixels as shown
BASE_HEIGHT, ROW_HEIGHT = 230, 46  # display pixels: title, axis and margins; each party row
ROW_LABEL_CHARS = 14
REPORTED = "Reported"
BACKGROUND = "#2b2d31"  # Discord's dark embed colour
TEXT, MUTED, GRID = "#f2f3f5", "#b5bac1", "#4e5058"
COLOURS = (
    "#5865f2", "#ed4245", "#57f287", "#fee75c", "#eb459e", "#faa61a", "#00b0f4", "#9b84ec",
)  # fmt: skip
OTHER_COLOUR = "#949ba4"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FONT_PT = {"title": 11.0, "subtitle": 8.2, "tick": 8.2, "letter": 8.6}
LETTER_PX = 0.75 * FONT_PT["letter"] * DPI / 72  # a bold capital's width, about
# Where a dot's letters go, in points from the dot, tried in turn: over it, under it, then a
# tier further out each way, so letters of developments a few days apart never overprint.
LABEL_SLOTS = (6.0, -6.0, 16.0, -16.0, 26.0, -26.0)

Key = tuple[str | None, str, str]


def entry_key(entry: TimelineEntry) -> Key:
    """A development as the text and the picture both know it."""
    return entry.date, entry.sentence.article_id, " ".join(entry.sentence.text.split())


def timeline_letters(briefing: Briefing) -> dict[Key, str]:
    """A letter for each dated development of the briefing's timeline, in its order (A, B, …):
    the text lists them with these letters and the picture marks their dots with them."""
    dated = [e for e in briefing.timeline if e.date]
    letters = string.ascii_uppercase
    return {entry_key(e): letters[n] for n, e in enumerate(dated[: len(letters)])}


def _rows(briefing: Briefing, entries: list[TimelineEntry]) -> list[tuple[str, str]]:
    """(row key, label) top to bottom: parties in briefing order that have a development,
    then "Reported" for developments no party's stance is stated in."""
    names = dict(briefing.parties)
    used = {p for e in entries for p in e.parties}
    rows = [(p, names[p]) for p, _ in briefing.parties if p in used]
    rows += [(p, p) for p in sorted(used - set(names))]
    if any(not e.parties for e in entries):
        rows.append(("", REPORTED))
    return rows


def _short(label: str) -> str:
    return label if len(label) <= ROW_LABEL_CHARS else label[: ROW_LABEL_CHARS - 1] + "…"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def drawn_entries(briefing: Briefing) -> list[TimelineEntry]:
    """The developments the picture draws: every dated one, one dot each."""
    return [e for e in briefing.developments or briefing.timeline if e.date]


def timeline_figure(briefing: Briefing) -> Figure:
    """The picture as a matplotlib figure (tests read its texts' sizes)."""
    entries = drawn_entries(briefing)
    rows = _rows(briefing, entries) if entries else []
    height = BASE_HEIGHT + ROW_HEIGHT * max(len(rows), 1)
    figure = Figure(figsize=(WIDTH / DPI, height * SCALE / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    top = 1 - 62 / height  # room for the title and the line under it
    bottom = 44 / height
    axes = figure.add_axes((0.25, bottom, 0.71, top - bottom), facecolor=BACKGROUND)
    figure.text(
        0.03, 1 - 8 / height, _title(briefing), ha="left", va="top", color=TEXT,
        fontsize=FONT_PT["title"], fontweight="bold",
    )  # fmt: skip
    if not entries:
        figure.text(
            0.03, 1 - 34 / height, "No dated developments in the articles yet.", va="top",
            color=MUTED, fontsize=FONT_PT["subtitle"],
        )  # fmt: skip
        axes.set_axis_off()
        return figure
    articles = {e.sentence.article_id for e in entries}
    figure.text(
        0.03, 1 - 34 / height,
        f"{_plural(len(entries), 'dated development')} from {_plural(len(articles), 'article')}"
        " · by party · newest right",
        va="top", color=MUTED, fontsize=FONT_PT["subtitle"],
    )  # fmt: skip
    level = {key: len(rows) - 1 - i for i, (key, _) in enumerate(rows)}
    colour = {key: COLOURS[i % len(COLOURS)] for i, (key, _) in enumerate(rows) if key}
    colour[""] = OTHER_COLOUR
    letters = timeline_letters(briefing)
    dates = [dt.date.fromisoformat(e.date or "") for e in entries]
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)
    pad = dt.timedelta(days=max(2, span // 12))
    low, high = date2num(first - pad), date2num(last + pad)
    # How many days a letter's width covers, so two labels of one row never print on top of
    # each other: the next one close by goes under its dots instead of over them.
    axes_px = WIDTH * 0.71
    days_per_px = (high - low) / axes_px
    ends: dict[tuple[str, float], float] = {}  # (row, slot): where its last label ends
    # Every development is a dot: those on one day and row are stacked, not hidden.
    stacks: dict[tuple[str, str], list[TimelineEntry]] = defaultdict(list)
    for entry in entries:
        for key in entry.parties or ("",):
            stacks[(entry.date or "", key)].append(entry)
    for (date, key), stacked in sorted(stacks.items()):
        x = date2num(dt.date.fromisoformat(date))
        step = min(0.22, 0.7 / len(stacked))
        ys = [level[key] + (n - (len(stacked) - 1) / 2) * step for n in range(len(stacked))]
        axes.scatter(
            [x] * len(stacked), ys, s=70, color=colour[key], edgecolors=BACKGROUND,
            linewidths=1.0, zorder=3,
        )  # fmt: skip
        marked = [letters[k] for k in dict.fromkeys(entry_key(e) for e in stacked) if k in letters]
        if marked:
            text = "·".join(marked)
            half = (len(text) * LETTER_PX / 2 + 2 * SCALE) * days_per_px  # with a gap
            free = [slot for slot in LABEL_SLOTS if x - half >= ends.get((key, slot), -1e12)]
            slot = free[0] if free else min(LABEL_SLOTS, key=lambda s: ends.get((key, s), 0))
            ends[(key, slot)] = x + half
            above = slot > 0
            axes.annotate(
                text, xy=(x, max(ys) if above else min(ys)), xytext=(0, slot),
                textcoords="offset points", ha="center", va="bottom" if above else "top",
                color=TEXT, fontsize=FONT_PT["letter"], fontweight="bold", zorder=4,
            )  # fmt: skip
    axes.set_xlim(low, high)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.set_yticks(range(len(rows)), [_short(label) for _, label in reversed(rows)])
    locator = AutoDateLocator(minticks=2, maxticks=4)
    axes.xaxis.set_major_locator(locator)
    # The year once, under the axis (not "2018-Oct").
    offsets = ["", "%Y", "%Y", "%Y", "%Y", "%Y"]
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, offset_formats=offsets))
    axes.grid(axis="x", color=GRID, linewidth=0.6, zorder=0)
    for y in range(len(rows)):
        axes.axhline(y, color=GRID, lw=0.8, zorder=1)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(MUTED)
    axes.tick_params(axis="both", colors=MUTED, labelsize=FONT_PT["tick"], length=0, pad=4)
    axes.xaxis.get_offset_text().set(color=MUTED, fontsize=FONT_PT["tick"])
    for label in axes.get_yticklabels():
        label.set_color(TEXT)
    return figure


def _title(briefing: Briefing) -> str:
    title = " ".join(briefing.issue.title.split())
    return title if len(title) <= 46 else title[:45] + "…"


def timeline_png(briefing: Briefing) -> bytes:
    """The picture as PNG bytes."""
    figure = timeline_figure(briefing)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Its fallback interval is fine for our 2-4 ticks; the warning only reaches the console.
        warnings.filterwarnings("ignore", "AutoDateLocator was unable", UserWarning)
        figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND)
    return buffer.getvalue()


def timeline_description(briefing: Briefing, limit: int = 1024) -> str:
    """The picture in words (its alt text: screen readers, and what a hover shows): how many
    developments it draws, from how many articles, and each lettered one's date and row."""
    entries = drawn_entries(briefing)
    if not entries:
        return f"Timeline of {briefing.issue.title}: no dated developments yet."
    articles = {e.sentence.article_id for e in entries}
    names = dict(briefing.parties)
    letters = timeline_letters(briefing)
    marks = []
    for entry in briefing.timeline:
        letter = letters.get(entry_key(entry))
        if letter:
            who = ", ".join(names.get(p, p) for p in entry.parties) or REPORTED
            marks.append(f"{letter} {entry.date} ({who})")
    dots = sum(max(len(e.parties), 1) for e in entries)
    each = (
        "one dot each"
        if dots == len(entries)
        else f"{_plural(dots, 'dot')}: one in the row of each party whose stance it states"
    )
    text = (
        f"Timeline of {briefing.issue.title}: {_plural(len(entries), 'dated development')} "
        f"drawn ({each}) from {_plural(len(articles), 'article')}, by party, newest on the "
        "right."
    )
    if marks:
        text += " Lettered: " + "; ".join(marks) + "."
    return text if len(text) <= limit else text[: limit - 1] + "…"
