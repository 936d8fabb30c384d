"""The timeline picture, drawn from briefing dataclasses: a real PNG of the expected size, with
a row per party, dots where the developments are, and nothing drawn when nothing is dated."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from briefings.briefing import Briefing, CitedSentence, TimelineEntry
from briefings.catalogue import Issue
from briefings.chart import HEIGHT, PNG_SIGNATURE, WIDTH, timeline_png

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


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert png.startswith(PNG_SIGNATURE) and image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT) == (1200, 600)
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


def test_each_party_gets_its_dots_and_the_picture_is_drawn():
    image = pixels(timeline_png(briefing(ENTRIES)))
    assert (image.min(axis=2) < 200).mean() > 0.01  # not blank
    # The first two rows' colours (U.S. blue, China red) and the grey of "Reported".
    for rgb in ((0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28), (0x7F, 0x7F, 0x7F)):
        assert colour_share(image, rgb) * WIDTH * HEIGHT > 30, rgb  # a dot: ~80 pixels
    # Newest on the right: the grey "Reported" dot (December) is right of China's (June).
    grey = np.argwhere(np.abs(image - np.array((0x7F, 0x7F, 0x7F))).sum(axis=2) < 30)
    red = np.argwhere(np.abs(image - np.array((0xD6, 0x27, 0x28))).sum(axis=2) < 30)
    assert grey[:, 1].max() > red[:, 1].max()


def test_the_same_briefing_draws_the_same_picture():
    assert timeline_png(briefing(ENTRIES)) == timeline_png(briefing(ENTRIES))


def test_nothing_dated_draws_a_picture_that_says_so():
    undated = [TimelineEntry(None, "published", cited("Undated.", None), ("us",), 0.9)]
    image = pixels(timeline_png(briefing(undated)))
    assert colour_share(image, (0x1F, 0x77, 0xB4)) == 0.0  # no dots
    assert (image.min(axis=2) < 200).mean() > 0.001  # the title and the note
