"""Cleaning and normalisation: furniture never becomes a passage; search text is normalised
while the quoted text stays original."""

from __future__ import annotations

import pytest

from corpus.cleaning import clean_paragraphs, is_furniture, split_paragraphs
from corpus.normalize import normalize_for_search

FURNITURE = [
    "Advertisement",
    "ADVERTISEMENT",
    "poll image",
    "Total Results: 0",
    "Share this story",
    "Share on Facebook",
    "Tweet Email Print",
    "Photo: Jane Doe/Reuters",
    "(AP Photo/Evan Vucci)",
    "REUTERS/Chris Wattie",
    "Click here to subscribe",
    "Sign up for our morning newsletter",
    "Related: Dairy farmers brace for change",
    "Story continues below advertisement",
    "By Jane Doe and John Roe",
    "Published Sept. 11, 2018 5:30 p.m. EDT",
    "© 2018 Example Media. All rights reserved.",
    "Most Read",
]

PROSE = [
    "Trump said the deal was good.",
    "By Friday, negotiators had closed most gaps.",
    "Freeland said she shared the photo with reporters after the meeting in Washington.",
    "The U.S. wants to remove the panels.",
    "Dairy remains the sticking point, officials said.",
]


@pytest.mark.parametrize("line", FURNITURE)
def test_page_furniture_is_recognised(line: str) -> None:
    assert is_furniture(line)


@pytest.mark.parametrize("line", PROSE)
def test_article_prose_is_kept(line: str) -> None:
    assert not is_furniture(line)


def test_reader_poll_block_is_dropped_whole() -> None:
    raw = (
        "Talks resumed on Tuesday in Washington with both sides hopeful.\n\n"
        "poll image\n\nWhat should Canada do at the table?\n\n    Total Results: 0\n\n"
        "    The president said the deal was coming along very well."
    )
    kept = clean_paragraphs(split_paragraphs(raw))
    assert kept == [
        "Talks resumed on Tuesday in Washington with both sides hopeful.",
        "The president said the deal was coming along very well.",
    ]


def test_a_question_in_the_prose_is_not_mistaken_for_a_poll() -> None:
    raw = "Officials met again.\n\nWill the deal survive Congress?\n\nNobody knows yet, they said."
    assert "Will the deal survive Congress?" in clean_paragraphs(split_paragraphs(raw))


def test_paragraph_lines_are_joined_and_markdown_marks_removed() -> None:
    raw = "## Heading here now\n\nA line\ncontinues [here](https://example.com) today.\n\n> Quoted words stay."
    assert split_paragraphs(raw) == [
        "Heading here now",
        "A line continues here today.",
        "Quoted words stay.",
    ]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("it’s “ m-i-l-k” that", 'it\'s " milk" that'),
        ("The U.S. wants", "The US wants"),
        ("anti-dumping x-ray", "anti-dumping x-ray"),
        ("U.S.–Canada talks — again", "US-Canada talks - again"),
        ("by Sept. 30 and aug 27", "by September 30 and August 27"),
        ("zero\u200bwidth", "zerowidth"),
    ],
)
def test_search_normalisation(raw: str, normalised: str) -> None:
    assert normalize_for_search(raw) == normalised
