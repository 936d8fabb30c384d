"""Issue briefings on the real bot over the loopback Discord: /issue, /issues, /whatsnew, and the
issues named in the /ingest, /reindex and /about replies."""

from __future__ import annotations

import re

import pytest
from fake_discord import ActionKind, BotAction, FakeDiscord, Upload

from .bot_harness import FIXTURE_ARTICLES, assert_no_pings, markdown_article

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(90)]

# The first briefing on an index scans it; ingests embed passages: generous, for a loaded CI box.
SLOW = 20.0
WIRE_DAIRY = (
    FIXTURE_ARTICLES.parent / "briefings" / "2018-08-21-continental-press-dairy-deadline.md"
)
ISSUE_IDS = [
    "chapter-19",
    "dairy",
    "culture",
    "ip-pharma",
    "autos",
    "fast-track",
    "steel-aluminum",
    "sunset",
    "investor-state",
]


def unescape(text: str) -> str:
    """Discord's view of escaped text: backslash escapes and zero-width spaces are invisible."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


async def ask_for_issue(fake: FakeDiscord, topic: str) -> BotAction:
    """``/issue topic``: acknowledged publicly at once, then answered publicly."""
    handle = await fake.send_interaction("issue", {"topic": topic})
    assert not (await handle.wait_for(ActionKind.DEFER)).ephemeral
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert not reply.ephemeral
    assert_no_pings(reply)
    return reply


def sections(reply: BotAction) -> dict[str, str]:
    """What each part of a briefing says, as a user reads it: "Where it stands",
    "Positions: U.S.", ..., "Timeline", "Sources"."""
    main, *rest = reply.embeds
    shown = {"Where it stands": unescape(main["description"].split("**Where it stands**\n")[1])}
    shown |= {f["name"]: unescape(f["value"]) for f in main.get("fields") or []}
    shown |= {e["title"]: unescape(e["description"]) for e in rest}
    return shown


def timeline_dates(timeline: str) -> list[str]:
    return re.findall(r"^\*\*(\d{4}-\d\d-\d\d)\*\* · ", timeline, re.M)


async def test_issue_dairy_shows_where_it_stands_positions_and_a_dated_timeline(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    reply = await ask_for_issue(fake_discord, "dairy")
    assert reply.embeds[0]["title"] == "Dairy and supply management"
    shown = sections(reply)
    # The status sentence, not the background list of sticking points.
    assert shown["Where it stands"].startswith(
        "> White House economic adviser Larry Kudlow said on Friday in an interview that it’s "
        "“ m-i-l-k” that continues to block a deal"
    )
    assert "where the U.S. wants concessions. [1]" in shown["Positions: U.S."]
    assert shown["Positions: Canada"] == "*No stated position in the articles.*"
    timeline = shown["Timeline"].splitlines()
    assert timeline[0] == (
        "**2018-09-07** · White House economic adviser Larry Kudlow said on Friday in an "
        "interview that it’s “ m-i-l-k” that continues to block a deal, while Freeland later "
        "downplayed that, saying Kudlow isn’t at the negotiating table. [1]"
    )
    assert timeline_dates(shown["Timeline"]) == ["2018-09-07", "2018-09-11"]
    assert shown["Sources"] == (
        "**[1]** Trump says NAFTA deal with Canada coming along 'very well' — BNN Bloomberg "
        "(Bloomberg News) · 2018-09-11 · <https://www.bnnbloomberg.ca/trump-says-nafta-deal-"
        "with-canada-coming-along-very-well-1.1136139>"
    )
    # An alias gives the same briefing.
    assert (await ask_for_issue(fake_discord, "milk")).embeds == reply.embeds


async def test_issue_ch_19_gives_each_side_its_stance(fake_discord: FakeDiscord, tradetalk) -> None:
    shown = sections(await ask_for_issue(fake_discord, "ch 19"))
    assert (
        "Chapter 19 of the current deal, which the U.S. wants to remove" in shown["Positions: U.S."]
    )
    assert "and Canada wants to keep" in shown["Positions: Canada"]
    assert shown["Positions: Mexico"] == "*No stated position in the articles.*"


async def test_issue_culture_has_canada_seeking_to_preserve_an_exemption(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    reply = await ask_for_issue(fake_discord, "culture")
    assert reply.embeds[0]["title"] == "Cultural industries exemption"
    assert sections(reply)["Positions: Canada"] == (
        "• Another point of contention is cultural industries, where Canada is seeking to "
        "preserve an exemption. [1]"
    )


async def test_an_issue_no_article_mentions_says_so(fake_discord: FakeDiscord, tradetalk) -> None:
    reply = await ask_for_issue(fake_discord, "steel")
    [embed] = reply.embeds
    assert embed["title"] == "Steel and aluminum tariffs"
    assert embed["description"].endswith("\n\nNo article mentions this issue yet.")
    assert not embed.get("fields") and "[1]" not in reply.text


async def test_topic_autocomplete_offers_issues(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    typing = await fake.send_autocomplete("issue", {"topic": "mil"}, "topic")
    choices = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
    assert (choices[0]["name"], choices[0]["value"]) == (
        "Dairy and supply management (milk)",
        "dairy",
    )
    nothing_typed = await fake.send_autocomplete("issue", {"topic": ""}, "topic")
    choices = (await nothing_typed.wait_for(ActionKind.AUTOCOMPLETE)).choices
    assert [c["value"] for c in choices] == ISSUE_IDS
    # A picked choice sends the issue id.
    assert (await ask_for_issue(fake, "chapter-19")).embeds[0]["title"] == (
        "Chapter 19 dispute panels"
    )


async def test_unknown_topic_gets_a_private_did_you_mean(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    handle = await fake.send_interaction("issue", {"topic": "dairu"})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral and not reply.embeds
    assert reply.content.startswith(
        "No such issue 'dairu'. Did you mean **Dairy and supply management** (`dairy`)"
    )
    # The public "thinking…" placeholder was removed: nobody else sees anything.
    assert ActionKind.DELETE_ORIGINAL in [a.kind for a in handle.actions]

    nonsense = await fake.send_interaction("issue", {"topic": "@everyone zzzqqq"})
    told = await nonsense.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert told.ephemeral and unescape(told.content) == (
        "No such issue '@everyone zzzqqq'. /issues list shows every issue I brief on."
    )
    assert_no_pings(told)


async def test_issues_lists_every_issue_with_its_article_count(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    handle = await fake_discord.send_interaction("issues list")
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert not reply.ephemeral
    [embed] = reply.embeds
    assert embed["title"] == "Negotiation issues (9)"
    lines = unescape(embed["description"]).splitlines()
    headings = lines[::2]
    assert [re.search(r"\(`([a-z0-9-]+)`\)", h).group(1) for h in headings] == ISSUE_IDS
    assert headings[1] == "**Dairy and supply management** (`dairy`) · 1 article"
    assert lines[3].startswith("2018-09-11: … Friday in an interview that it’s “ m-i-l-k”")
    assert headings[6] == "**Steel and aluminum tariffs** (`steel-aluminum`) · 0 articles"
    assert lines[13] == "not mentioned in any article"


async def test_ingest_reports_issues_then_whatsnew_lists_them_once(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    upload = Upload(WIRE_DAIRY.name, WIRE_DAIRY.read_bytes(), "text/markdown")
    handle = await fake.send_interaction("ingest", user=fake.admin_id, attachments={"file": upload})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral
    lines = reply.content.splitlines()
    assert lines[0].startswith("Added “U.S. sets end-of-month target for Canadian dairy opening”")
    assert lines[1:] == [
        "Known issues it touches: Dairy and supply management, Auto tariffs (Section 232).",
        "New developments on: Dairy and supply management (2 new sentences), Auto tariffs "
        "(Section 232) (2 new sentences). See /whatsnew or /issue.",
    ]

    check = await fake.send_interaction("whatsnew")
    news = await check.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert not news.ephemeral
    assert_no_pings(news)
    text = unescape(news.content)
    assert text.startswith("**New developments since the last check**\n")
    assert (
        "• **Dairy and supply management** (`dairy`): 2 new sentences, from Continental "
        "Press (wire)" in text
    )
    assert "• **Auto tariffs (Section 232)** (`autos`): 2 new sentences" in text
    assert (
        "> Canadian officials rejected the deadline, saying supply management was not up "
        "for negotiation." in text
    )
    assert "chapter-19" not in text and "fast-track" not in text  # nothing new on those

    again = await fake.send_interaction("whatsnew")
    assert (await again.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content == (
        "No issue has new developments since the last check."
    )

    shown = sections(await ask_for_issue(fake, "dairy"))
    assert timeline_dates(shown["Timeline"])[:2] == ["2018-08-20", "2018-08-21"]
    assert "open up its dairy market before the end of the month" in shown["Timeline"]
    assert (
        "[2]" in shown["Timeline"] and "**[2]** U.S. sets end-of-month target" in shown["Sources"]
    )


async def test_reindex_and_about_name_the_issues(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    about = await fake.send_interaction("about")
    shown = (await about.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).embeds[0]["description"]
    assert (
        "Issues covered: Chapter 19 dispute panels, Dairy and supply management, Cultural "
        "industries exemption"
    ) in shown
    assert "Steel" not in shown  # no article mentions it

    handle = await fake.send_interaction("reindex", user=fake.admin_id)
    done = await handle.wait_for(
        ActionKind.EDIT_ORIGINAL, predicate=lambda a: "finished" in a.content, timeout=SLOW
    )
    assert done.content.splitlines()[-1] == "No issue gained new developments."


async def test_hostile_article_briefs_within_limits_and_pings_nobody(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    long_sentence = (
        "The United States wants Canada to open its dairy market @everyone and "
        + "the ``` **talks** <@123456789012345678> went on " * 120
        + "for weeks."
    )
    body = "\n\n".join(
        [long_sentence]
        + [
            f"On Monday, the U.S. wants dairy concession number {n} @here, an official said."
            for n in range(8)
        ]
    )
    article = markdown_article(
        "@everyone ``` dairy " * 30,
        "<@123456789012345678> Wire",
        body,
        url="https://example.org/hostile",
    )
    handle = await fake.send_interaction(
        "ingest",
        user=fake.admin_id,
        attachments={"file": Upload("hostile.md", article, "text/markdown")},
    )
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert "Dairy and supply management" in reply.content

    briefing = await ask_for_issue(fake, "dairy")  # the fake refuses anything over the limits
    assert len(briefing.embeds) == 3
    assert "@everyone" not in briefing.text and "```" not in briefing.text
    assert " …" in briefing.text  # the long sentence was cut (between words) to fit
    news = await (await fake.send_interaction("whatsnew")).wait_for(
        ActionKind.FOLLOWUP, timeout=SLOW
    )
    assert_no_pings(news)
    assert "@everyone" not in news.content
