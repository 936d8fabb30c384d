"""The timeline picture of a briefing: each dated development on a time axis, one row per party
(the parties whose stance the sentence states; the rest under "Reported"), newest on the
right, the most relevant few numbered, and listed under the axis with their date and words.

Drawn with matplotlib's object API on an Agg canvas: no pyplot global state, no display, safe
in the bot's worker threads. The picture is always `WIDTH` x `HEIGHT` pixels."""

from __future__ import annotations

import datetime as dt
import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from briefings.briefing import Briefing, TimelineEntry

WIDTH, HEIGHT, DPI = 1200, 600, 100
LABELLED = 5  # developments labelled with their words (the most relevant)
LABEL_CHARS = 140
KEY_TOP, KEY_LINE = 0.2, 0.036  # where the list of labelled developments starts, line height
REPORTED = "Reported"
COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
)  # fmt: skip
OTHER_COLOUR = "#7f7f7f"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _label(entry: TimelineEntry) -> str:
    words = " ".join(entry.sentence.text.split())
    short = textwrap.shorten(words, LABEL_CHARS, placeholder=" …")
    return f"{entry.date}: {short}"


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


def timeline_png(briefing: Briefing) -> bytes:
    """The picture as PNG bytes."""
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.14, 0.32, 0.83, 0.54))
    figure.suptitle(briefing.issue.title, x=0.02, y=0.97, ha="left", fontsize=15)
    entries = [e for e in briefing.developments or briefing.timeline if e.date]
    if not entries:
        figure.text(0.02, 0.9, "No dated developments in the articles yet.", fontsize=11)
        axes.set_axis_off()
        return _png(figure)
    rows = _rows(briefing, entries)
    level = {key: len(rows) - 1 - i for i, (key, _) in enumerate(rows)}
    colour = {key: COLOURS[i % len(COLOURS)] for i, (key, _) in enumerate(rows) if key}
    colour[""] = OTHER_COLOUR
    articles = {e.sentence.article_id for e in entries}
    figure.text(
        0.02,
        0.905,
        f"{len(entries)} dated development{'s' if len(entries) != 1 else ''} from "
        f"{len(articles)} article{'s' if len(articles) != 1 else ''}, by party; newest on the "
        "right",
        fontsize=10,
        color="#444444",
    )
    dates = [dt.date.fromisoformat(e.date) for e in entries]
    for entry, day in zip(entries, dates, strict=True):
        for key in entry.parties or ("",):
            axes.scatter(
                date2num(day),
                level[key],
                s=90,
                color=colour[key],
                edgecolors="white",
                linewidths=1.2,
                zorder=3,
            )
    # The key developments: stated positions before reports, then the most relevant; one
    # label per point.
    key_entries: list[TimelineEntry] = []
    labelled: set[tuple[str | None, str]] = set()
    for entry in sorted(entries, key=lambda e: (not e.parties, -e.relevance)):
        point = (entry.date, (entry.parties or ("",))[0])
        if point not in labelled:
            labelled.add(point)
            key_entries.append(entry)
        if len(key_entries) == LABELLED:
            break
    key_entries.sort(key=lambda e: e.date or "")
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)
    # Numbers by the dots, their words in a list under the axis: labels never overlap each
    # other or the dots, however crowded the rows.
    marks: list[tuple[float, int, list[str]]] = []  # x, row, numbers shown there
    for n, entry in enumerate(key_entries, start=1):
        x = date2num(dt.date.fromisoformat(entry.date))
        row = level[(entry.parties or ("",))[0]]
        near = next((m for m in marks if m[1] == row and abs(m[0] - x) < span * 0.02), None)
        if near:  # dots a few days apart on one row share their label: "2,3"
            near[2].append(str(n))
        else:
            marks.append((x, row, [str(n)]))
        figure.text(
            0.02,
            KEY_TOP - (n - 1) * KEY_LINE,
            f"{n}   {_label(entry)}",
            fontsize=9,
            color="#222222",
        )
    for x, row, numbers in marks:
        axes.annotate(
            ",".join(numbers),
            xy=(x, row),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
            color="#222222",
            zorder=4,
        )
    pad = dt.timedelta(days=max(2, span // 20))
    axes.set_xlim(date2num(first - pad), date2num(last + pad))
    axes.set_ylim(-0.8, len(rows) - 0.2)
    axes.set_yticks(range(len(rows)), [label for _, label in reversed(rows)])
    locator = AutoDateLocator(minticks=3, maxticks=9)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(axis="x", color="#eeeeee", zorder=0)
    for y in range(len(rows)):
        axes.axhline(y, color="#dddddd", lw=1, zorder=1)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="y", length=0, labelsize=10)
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
