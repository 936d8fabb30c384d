"""The timeline picture, drawn from briefing dataclasses: a real PNG twice Discord's ~440 px
embed width, on a dark card, with a row per party, a dot for every development (stacked when
they share a day), letters (not numbers) on the ones the text lists, every text readable at
the size Discord shows it, and nothing drawn when nothing is dated."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from briefings.briefing import Briefing, CitedSentence, TimelineEntry
from briefings.catalogue import Issue
from briefings.chart import (
    BACKGROUND,
    COLOURS,
    DISPLAY_WIDTH,
    MIN_DISPLAY_PX,
    OTHER_COLOUR,
    PNG_SIGNATURE,
    WIDTH,
    timeline_description,
    timeline_figure,
    timeline_letters,
    timeline_png,
)

ISSUE = Issue(
    id="soybeans",
    title="Soybean purchases",
    aliases=("soybeans",),
    description="Whether China buys more soybeans from U.S. farmers.",
)


def cited(text: str, date: str, article: str = "a") -> CitedSentence:
    return CitedSentence(text, article, f"{article}#p1", "Title", "Outlet", date, None)


def briefing(entries: list[TimelineEntry]) -> Briefing:
    return Briefing(
        issue=ISSUE,
        parties=(("us", "U.S."), ("china", "China")),
        standing=(),
        positions=(),
        timeline=tuple(entries),
        article_count=2,
        index_version="v",
        developments=tuple(entries),
    )


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert png.startswith(PNG_SIGNATURE) and image.format == "PNG"
    assert image.size[0] == WIDTH == 2 * DISPLAY_WIDTH
    return np.asarray(image.convert("RGB"), dtype=np.int16)


ENTRIES = [
    TimelineEntry("2019-05-10", "published", cited("The U.S. raised tariffs.", "2019-05-10"),
                  ("us",), 0.9),
    TimelineEntry("2019-06-29", "Saturday", cited("China agreed to buy soybeans.", "2019-06-30",
                  "b"), ("china",), 0.8),
    TimelineEntry("2019-12-13", "Friday", cited("Farmers waited.", "2019-12-14", "c"), (), 0.5),
]  # fmt: skip


def colour_share(image: np.ndarray, rgb: tuple[int, int, int]) -> float:
    return float((np.abs(image - np.array(rgb)).sum(axis=2) < 40).mean())


def test_each_party_gets_its_dots_on_a_dark_card():
    image = pixels(timeline_png(briefing(ENTRIES)))
    # Mostly the dark card (no white box in Discord's dark theme), with text drawn on it.
    assert colour_share(image, rgb(BACKGROUND)) > 0.6
    assert (image.max(axis=2) > 200).mean() > 0.003  # light text
    # The first two rows' colours and the grey of "Reported".
    for colour in (COLOURS[0], COLOURS[1], OTHER_COLOUR):
        assert colour_share(image, rgb(colour)) * image.shape[0] * image.shape[1] > 30, colour
    # Newest on the right: the grey "Reported" dot (December) is right of China's (June).
    grey = np.argwhere(np.abs(image - np.array(rgb(OTHER_COLOUR))).sum(axis=2) < 30)
    red = np.argwhere(np.abs(image - np.array(rgb(COLOURS[1]))).sum(axis=2) < 30)
    assert grey[:, 1].max() > red[:, 1].max()


def test_every_text_is_readable_at_the_size_discord_shows_it():
    figure = timeline_figure(briefing(ENTRIES))
    scale = DISPLAY_WIDTH / (figure.get_figwidth() * figure.dpi)
    texts = [*figure.texts]
    for axes in figure.axes:
        texts += [*axes.texts, *axes.get_xticklabels(), *axes.get_yticklabels()]
    shown = [t for t in texts if t.get_text()]
    assert len(shown) >= 8  # title, subtitle, three rows, dates, letters
    for text in shown:
        pixels_tall = text.get_fontsize() * figure.dpi / 72 * scale
        assert pixels_tall >= MIN_DISPLAY_PX, (text.get_text(), pixels_tall)


def test_letters_mark_the_listed_developments_and_the_count_is_what_is_drawn():
    same_day = [
        *ENTRIES,
        TimelineEntry("2019-12-13", "Friday", cited("Farmers sold.", "2019-12-14", "d"), (), 0.4),
    ]
    shown = briefing(same_day)
    letters = timeline_letters(shown)
    assert sorted(letters.values()) == ["A", "B", "C", "D"]  # letters, never [1]-like numbers
    figure = timeline_figure(shown)
    marks = [t.get_text() for axes in figure.axes for t in axes.texts]
    assert marks == ["A", "B", "C·D"]  # two developments on one day and row: both named
    dots = sum(len(c.get_offsets()) for axes in figure.axes for c in axes.collections)
    assert dots == len(same_day) == 4  # stacked, not drawn over each other
    assert any("4 dated developments" in t.get_text() for t in figure.texts)
    description = timeline_description(shown)
    assert "4 dated developments drawn (one dot each) from 4 articles" in description
    assert "A 2019-05-10 (U.S.)" in description and "D 2019-12-13 (Reported)" in description


def test_the_same_briefing_draws_the_same_picture():
    assert timeline_png(briefing(ENTRIES)) == timeline_png(briefing(ENTRIES))


def test_nothing_dated_draws_a_picture_that_says_so():
    undated = [TimelineEntry(None, "published", cited("Undated.", None), ("us",), 0.9)]
    image = pixels(timeline_png(briefing(undated)))
    assert colour_share(image, rgb(COLOURS[0])) == 0.0  # no dots
    assert (image.max(axis=2) > 200).mean() > 0.001  # the title and the note


def test_letters_of_developments_days_apart_on_one_row_never_overlap():
    """Five U.S. developments within a week of a year-long timeline: their letters (A–E) sit
    a few pixels apart, so close ones go under their dots instead of on top of each other."""
    close = [
        TimelineEntry(f"2019-05-{day:02d}", "", cited(f"The U.S. moved on day {day}.",
                      f"2019-05-{day:02d}", f"a{day}"), ("us",), 0.9)
        for day in (10, 12, 13, 15, 17)
    ]  # fmt: skip
    entries = close + ENTRIES[1:]
    figure = timeline_figure(briefing(entries))
    renderer = figure.canvas.get_renderer()
    letters = set(timeline_letters(briefing(entries)).values())
    boxes = [t.get_window_extent(renderer) for t in figure.axes[0].texts if t.get_text() in letters]
    assert len(boxes) == len(entries)
    overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    assert not overlapping
