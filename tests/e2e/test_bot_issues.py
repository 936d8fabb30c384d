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
    return re.findall(r"^(?:\*\*[A-Z]\*\* · )?\*\*(\d{4}-\d\d-\d\d)\*\* · ", timeline, re.M)


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
    # Each sentence quoted once: Kudlow's (where it stands) is pointed back to.
    assert shown["Positions: U.S."].splitlines()[0] == (
        "• *said — quoted under Where it stands* [1] — Larry Kudlow"
    )
    assert "where the U.S. wants concessions. [1]" in shown["Positions: U.S."]
    assert shown["Positions: Canada"] == "*No stated position in the articles.*"
    # Lettered as the picture's dots are.
    assert shown["Timeline"].splitlines() == [
        "**A** · **2018-09-07** · U.S.: “White House economic adviser Larry Kudlow said on "
        "Friday … *(above)* [1]",
        "**B** · **2018-09-11** · U.S.: “They include anti-dumping dispute panels contained "
        "under … *(above)* [1]",
    ]
    assert timeline_dates(shown["Timeline"]) == ["2018-09-07", "2018-09-11"]
    assert shown["Sources"] == (
        "**[1]** [Trump says NAFTA deal with Canada coming along 'very well']"
        "(https://www.bnnbloomberg.ca/trump-says-nafta-deal-with-canada-coming-along-very-well-"
        "1.1136139) — BNN Bloomberg (Bloomberg News), 2018-09-11"
    )
    # An alias gives the same briefing.
    assert (await ask_for_issue(fake_discord, "milk")).embeds == reply.embeds


async def test_issue_ch_19_gives_each_side_its_stance(fake_discord: FakeDiscord, tradetalk) -> None:
    shown = sections(await ask_for_issue(fake_discord, "ch 19"))
    # The one sentence states both sides' stances: quoted where it stands, each side's
    # position pointing to it with its stance.
    assert (
        "Chapter 19 of the current deal, which the U.S. wants to remove"
        in (shown["Where it stands"])
    )
    assert "and Canada wants to keep" in shown["Where it stands"]
    pointer = "• *wants — quoted under Where it stands* [1]"
    assert shown["Positions: U.S."] == shown["Positions: Canada"] == pointer
    assert shown["Positions: Mexico"] == "*No stated position in the articles.*"


async def test_issue_culture_has_canada_seeking_to_preserve_an_exemption(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    reply = await ask_for_issue(fake_discord, "culture")
    assert reply.embeds[0]["title"] == "Cultural industries exemption"
    shown = sections(reply)
    assert shown["Where it stands"] == (
        "> Another point of contention is cultural industries, where Canada is seeking to "
        "preserve an exemption. [1]"
    )
    assert shown["Positions: Canada"] == "• *is seeking — quoted under Where it stands* [1]"


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
    reply = await handle.reply(timeout=SLOW)
    assert reply.ephemeral and not reply.embeds
    assert reply.content.startswith(
        "No such issue 'dairu'. Did you mean **Dairy and supply management** (`dairy`)"
    )
    # Told at once, privately: no public "thinking…" ever showed.
    assert [a.kind for a in handle.actions] == [ActionKind.RESPONSE]

    nonsense = await fake.send_interaction("issue", {"topic": "@everyone zzzqqq"})
    told = await nonsense.reply(timeout=SLOW)
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
    assert news.ephemeral  # the member's own news
    assert_no_pings(news)
    [embed] = news.embeds
    assert embed["title"] == "New since your last check"
    fields = {f["name"]: unescape(f["value"]) for f in embed["fields"]}
    assert set(fields) == {
        "Dairy and supply management · 2 new sentences",
        "Auto tariffs (Section 232) · 2 new sentences",
    }  # nothing new on Chapter 19 or fast track
    assert fields["Dairy and supply management · 2 new sentences"].endswith(
        ", Continental Press (wire), 2018-08-21"
    )

    again = await fake.send_interaction("whatsnew")
    nothing = await again.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert nothing.embeds[0]["description"] == (
        "Nothing new since your last check: no issue gained developments."
    )

    shown = sections(await ask_for_issue(fake, "dairy"))
    assert timeline_dates(shown["Timeline"])[:2] == ["2018-08-20", "2018-08-21"]
    # Quoted once in the briefing (where it first appears); the timeline points to it.
    everything = "\n".join(shown.values())
    assert everything.count("open up its dairy market before the end of the month") == 1
    assert (
        "[2]" in shown["Timeline"] and "**[2]** [U.S. sets end-of-month target" in shown["Sources"]
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

    # The server's own article, so /reindex has something of its own to rebuild.
    upload = Upload(WIRE_DAIRY.name, WIRE_DAIRY.read_bytes(), "text/markdown")
    added = await fake.send_interaction("ingest", user=fake.admin_id, attachments={"file": upload})
    await added.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
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
