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
    # Time stamps and datelines, as page extraction leaves them.
    "Tue, Aug 06, 2019 - 6:44 AM",
    "Monday, 04 March 2019 10:55:24 (GMT+3) | Geneva",
    "Example Post | 9 December 2016",
    "11/10/2017 08:22 EST | Updated 33 minutes ago",
    "(Xinhua) 07:59, September 17, 2021",
    "By | Monday, 23 January 2017 12:08 PM EST",
    "date 2019-02-25 Written by Jane Roe",
    # Photo captions, ending with their credit or opening the agency way.
    "Trade Minister Jane Roe signs the pact in Auckland (John Doe / Example News)",
    "The vice premier (centre) meets two senators on Tuesday. Photo: Example Agency",
    "WASHINGTON, DC - NOVEMBER 27: The adviser listens during a briefing at the White House",
    "In this photo supplied by the ministry, delegates pose before the signing.",
    # Navigation, labels and pointers.
    "Skip to main content",
    "Home > Press Room > Briefings",
    "Tags: trade | tariffs | talks",
    "Political Figures - US",
    "CHEAT SHEET",
    "This article is more than 12 months old",
    "More to follow.",
    "The tariff list can be found by clicking here.",
    "Read the full text of the agreement here.",
    "Get the morning briefing delivered directly to your inbox.",
    "Example360 (Sponsored)",
    "Jane P. Roe (EXI)",
]

PROSE = [
    "Trump said the deal was good.",
    "By Friday, negotiators had closed most gaps.",
    "Freeland said she shared the photo with reporters after the meeting in Washington.",
    "The U.S. wants to remove the panels.",
    "Dairy remains the sticking point, officials said.",
    # Real-shaped paragraphs that begin or end like furniture but are the story.
    "Copyright protection for broadcasters was one of the last issues settled, officials said.",
    "Read more about the proposal's effect on dairy farmers, the report urged its members.",
    "Photo: the minister told reporters that Canada would not sign a bad deal, and that talks "
    "would resume on Monday in Washington with both teams.",
    "Updated rules of origin would require 75 percent of a car's content to be made in the "
    "region, up from 62.5 percent under the old pact, negotiators said on Tuesday.",
    "The deal, published on Sept. 30, runs to more than 1,800 pages.",
    "On Monday, 1 October 2018, the three countries announced the new pact.",
    "Source: a senior official familiar with the talks said the gap on dairy had narrowed.",
    "Home prices in Canada were not part of the talks, the minister said.",
    "Tags on imported cheese will show the country of origin under the new rules.",
    "The talks can be found to have failed on three counts, the report concluded.",
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


def test_headline_repeats_mastheads_and_printed_twice_paragraphs_go() -> None:
    raw = (
        "date 2019-01-04 Talks resume in Beijing next week\n\n"
        "Talks resume in Beijing next week, Latest World News - Example Post\n\n"
        "The Example Post Democracy in Daylight\n\n"
        "A delegation will travel to Beijing on Monday for two days of talks, officials said.\n\n"
        "A delegation will travel to Beijing on Monday for two days of talks, officials said.\n\n"
        "Talks resume in Beijing next week after a month of truce, officials said on Friday."
    )
    kept = clean_paragraphs(
        split_paragraphs(raw), "Talks resume in Beijing next week", "The Example Post"
    )
    assert kept == [
        "A delegation will travel to Beijing on Monday for two days of talks, officials said.",
        "Talks resume in Beijing next week after a month of truce, officials said on Friday.",
    ]


def test_a_list_keeps_one_item_a_line_and_a_list_of_labels_is_furniture() -> None:
    raw = (
        "The issues still open:\n- Dairy: quotas stay.\n* Autos: content rules.\n"
        "1. Culture: an exemption.\n\n"
        "• Skip to content\n• Skip to main menu\n\n"
        "• WAR OF WORDS: A STORY\n• ANOTHER SHOUTED HEADLINE"
    )
    assert clean_paragraphs(split_paragraphs(raw)) == [
        "The issues still open:\n• Dairy: quotas stay.\n• Autos: content rules.\n"
        "• Culture: an exemption."
    ]


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
        ("$250bn and $250billion", "$250 billion and $250 billion"),
        ("25% or 25 per cent", "25 percent or 25 percent"),
        ("the G-20 and TPP-11", "the G20 and TPP11"),
    ],
)
def test_search_normalisation(raw: str, normalised: str) -> None:
    assert normalize_for_search(raw) == normalised
