"""Briefings on any topic, kept as issues by admins, proposals offered by autocomplete, and
party corrections in Discord: the real bot over the loopback Discord, on the bundled article
(plus the held-out U.S.-China fixtures in the server's own library where said)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_discord import ActionKind, BotAction, FakeDiscord

from corpus.articles import read_article

from .bot_harness import assert_no_pings

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(150)]

SLOW = 30.0
HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "heldout" / "articles"
NAFTA_ISSUES = {
    "chapter-19",
    "dairy",
    "culture",
    "ip-pharma",
    "autos",
    "fast-track",
    "steel-aluminum",
    "sunset",
    "investor-state",
}


async def issue(fake: FakeDiscord, topic: str) -> BotAction:
    handle = await fake.send_interaction("issue", {"topic": topic})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert not reply.ephemeral
    assert_no_pings(reply)
    return reply


async def command(fake: FakeDiscord, name: str, options: dict, *, admin: bool) -> BotAction:
    kwargs = {"user": fake.admin_id} if admin else {}
    handle = await fake.send_interaction(name, options, **kwargs)
    reply = await handle.reply(timeout=SLOW)
    assert_no_pings(reply)
    return reply


def _guild(bot) -> int:
    return min(g.id for g in bot.guilds)


async def test_any_topic_is_briefed_on_the_spot_and_an_admin_keeps_it(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    reply = await issue(fake, "Congress")
    assert reply.content.startswith(
        "*Not a curated issue: built on the spot from the articles that discuss “Congress”."
    )
    assert reply.content.endswith("Admins can keep it with /issues keep.*")
    assert reply.embeds[0]["title"] == "Congress"
    assert "Prominent members of Congress have warned" in str(reply.embeds)

    refused = await command(fake, "issues keep", {"topic": "Congress"}, admin=False)
    assert refused.ephemeral and "admins" in refused.content
    kept = await command(fake, "issues keep", {"topic": "Congress"}, admin=True)
    assert kept.ephemeral and kept.content.startswith("Kept “Congress” (`congress`)")

    again = await issue(fake, "congress")
    assert not again.content  # a curated issue now: no note
    assert again.embeds[0]["title"] == "Congress"
    entries = await asyncio.to_thread(tradetalk.libraries.audit(_guild(tradetalk)).recent, 50)
    assert any(e.action == "issue-add" and e.target == "congress" for e in entries)


async def test_autocomplete_offers_the_proposals_once_worked_out(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    articles = [read_article(p, max_bytes=2_000_000) for p in sorted(HELDOUT.glob("*.md"))]
    await asyncio.to_thread(tradetalk.libraries.ingest_articles, _guild(tradetalk), articles)
    proposed: list[dict] = []
    for _ in range(60):  # the first request starts working them out in the background
        typing = await fake.send_autocomplete("issue", {"topic": ""}, "topic")
        choices = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
        proposed = [c for c in choices if c["value"] not in NAFTA_ISSUES]
        if proposed:
            break
        await asyncio.sleep(0.5)
    assert proposed, "no proposal was offered"
    reply = await issue(fake, proposed[0]["value"])
    assert reply.content.startswith("*A proposed issue, not yet accepted")


async def test_admins_correct_the_parties_in_discord(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    listed = await command(fake, "parties list", {}, admin=False)
    assert not listed.ephemeral
    assert "canada: Canada (names: Canada" in listed.embeds[0]["description"]

    refused = await command(
        fake, "parties set", {"party": "canada", "name": "Government of Canada"}, admin=False
    )
    assert refused.ephemeral and "admins" in refused.content
    changed = await command(
        fake,
        "parties set",
        {"party": "canada", "name": "Government of Canada", "person": "LeBlanc"},
        admin=True,
    )
    assert changed.ephemeral and changed.content.startswith("party canada: Government of Canada")
    dropped = await command(fake, "parties drop", {"party": "mexico"}, admin=True)
    assert dropped.ephemeral and dropped.content.startswith("dropped party: mexico")

    listed = await command(fake, "parties list", {}, admin=False)
    text = listed.embeds[0]["description"]
    assert "canada: Government of Canada" in text and "LeBlanc" in text
    assert "mexico:" not in text
    # The briefing follows: Canada under its new name, Mexico gone.
    shown = await issue(fake, "ch 19")
    names = [f["name"] for f in shown.embeds[0].get("fields") or []]
    assert "Positions: Government of Canada" in names
    assert not any("Mexico" in n for n in names)

    typing = await fake.send_autocomplete("parties set", {"party": "gov"}, "party")
    choices = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
    assert [c["value"] for c in choices] == ["canada"]
