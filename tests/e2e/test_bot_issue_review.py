"""Issues found in the articles, reviewed in Discord, and the timeline picture of /issue: the real
bot over the loopback Discord, on the bundled article plus the held-out U.S.-China fixtures (a
negotiation the packaged catalogue knows nothing about)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest
from fake_discord import ActionKind, BotAction, FakeDiscord
from PIL import Image

from corpus.articles import read_article

from .bot_harness import assert_no_pings

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(120)]

SLOW = 30.0
HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "heldout" / "articles"


def picture(fake: FakeDiscord, reply: BotAction) -> Image.Image:
    [attachment] = reply.attachments
    assert attachment["filename"].endswith(".png")
    data = fake.state.uploads[int(attachment["id"])].data
    return Image.open(io.BytesIO(data))


def assert_real_picture(image: Image.Image) -> None:
    # Twice the ~440 px Discord shows an embed image at; taller with more party rows.
    assert image.format == "PNG" and image.size[0] == 880 and 400 < image.size[1] <= 880
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    # Not blank: a good part of the picture is drawn (dots, light text, axes) on the dark card.
    assert (pixels.max(axis=2) > 150).mean() > 0.005
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


async def briefing_of(fake: FakeDiscord, topic: str) -> BotAction:
    handle = await fake.send_interaction("issue", {"topic": topic})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert_no_pings(reply)
    return reply


def button_ids(reply: BotAction) -> list[str]:
    return [b["custom_id"] for row in reply.components for b in row["components"]]


async def open_review(fake: FakeDiscord) -> BotAction:
    handle = await fake.send_interaction("issues suggest", user=fake.admin_id)
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral
    return reply


def _guild(bot) -> int:
    return min(g.id for g in bot.guilds)


def _issue(bot, issue_id: str) -> list[str]:
    """The names (title, aliases, keywords) the stored issue answers to in the server's
    catalogue, as slugs too."""
    issue = bot.libraries.briefings(_guild(bot)).resolve(issue_id)
    names = [issue.title, *issue.aliases, *issue.keywords]
    return names + [n.lower().replace(" ", "-") for n in names]


async def with_heldout_articles(bot) -> None:
    """The held-out articles in the server's own library."""
    articles = [read_article(p, max_bytes=2_000_000) for p in sorted(HELDOUT.glob("*.md"))]
    await asyncio.to_thread(bot.libraries.ingest_articles, _guild(bot), articles)


async def test_issue_attaches_its_timeline_picture(fake_discord: FakeDiscord, tradetalk) -> None:
    reply = await briefing_of(fake_discord, "dairy")
    assert_real_picture(picture(fake_discord, reply))
    timeline = next(e for e in reply.embeds if e.get("title") == "Timeline")
    assert timeline["image"]["url"] == "attachment://timeline-dairy.png"
    # An issue no article mentions has no timeline, so no picture either.
    assert (await briefing_of(fake_discord, "steel")).attachments == []


async def test_admin_accepts_a_proposed_issue_which_then_gets_a_briefing(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await with_heldout_articles(tradetalk)
    review = await open_review(fake)
    [embed] = review.embeds
    assert embed["title"] == "Proposed issue"
    assert embed["footer"]["text"].startswith("Proposal 1 of ")
    buttons = button_ids(review)
    assert [b.split(":")[2] for b in buttons] == ["accept", "rename", "merge", "drop", "next"]
    proposal_id = buttons[0].split(":")[3]
    assert f"(`{proposal_id}`)" in embed["description"]
    assert "> " in embed["description"]  # the sentences it was found in

    click = await fake.send_component(review.message_id, buttons[0], user=fake.admin_id)
    await click.wait_for(ActionKind.DEFER_UPDATE)
    shown = await click.wait_for(ActionKind.EDIT_ORIGINAL, timeout=SLOW)
    assert shown.embeds[0]["description"].startswith("Accepted “")
    assert f"/issue {proposal_id} briefs on it." in shown.embeds[0]["description"]
    assert f":{proposal_id}" not in " ".join(button_ids(shown))  # the next proposal is shown

    briefing = await briefing_of(fake, proposal_id)
    assert not briefing.embeds[0]["description"].endswith("No article mentions this issue yet.")
    assert "[1]" in briefing.text
    assert_real_picture(picture(fake, briefing))
    typing = await fake.send_autocomplete("issue", {"topic": proposal_id[:4]}, "topic")
    choices = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
    assert proposal_id in [c["value"] for c in choices]
    audit = await asyncio.to_thread(tradetalk.libraries.audit(fake.guild_id).recent, 5)
    assert any(e.action == "issue-add" and e.target == proposal_id for e in audit)


async def test_rename_through_a_modal_drop_and_refusals(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await with_heldout_articles(tradetalk)
    review = await open_review(fake)
    accept, rename, _merge, _drop, _next = button_ids(review)
    proposal_id = rename.split(":")[3]

    refused = await fake.send_component(review.message_id, accept)  # a member, not an admin
    reply = await refused.reply()
    assert reply.ephemeral and reply.content.startswith("Only server admins")

    click = await fake.send_component(review.message_id, rename, user=fake.admin_id)
    modal = await click.wait_for(ActionKind.MODAL)
    assert modal.request_body["custom_id"] == f"tradetalk:proposal-rename:{proposal_id}"
    submitted = await fake.send_modal_submit(
        modal.request_body["custom_id"], {"title": "The heldout issue"}, user=fake.admin_id
    )
    told = await submitted.reply(timeout=SLOW)
    assert told.ephemeral and "Accepted as “The heldout issue”" in told.content
    briefing = await briefing_of(fake, "the heldout issue")
    assert briefing.embeds[0]["title"] == "The heldout issue"

    # Merge the next proposal into the issue just accepted, through the other modal.
    review = await open_review(fake)
    merged_id = button_ids(review)[2].split(":")[3]
    click = await fake.send_component(review.message_id, button_ids(review)[2], user=fake.admin_id)
    modal = await click.wait_for(ActionKind.MODAL)
    submitted = await fake.send_modal_submit(
        modal.request_body["custom_id"], {"into": "the heldout issue"}, user=fake.admin_id
    )
    told = await submitted.reply(timeout=SLOW)
    assert told.ephemeral and told.content.startswith(f"Merged: {merged_id} into {proposal_id}")
    merged_names = await asyncio.to_thread(_issue, tradetalk, proposal_id)
    assert merged_id in merged_names

    again = await open_review(fake)
    dropped_id = button_ids(again)[3].split(":")[3]
    assert dropped_id != proposal_id  # the accepted one is no longer proposed
    click = await fake.send_component(again.message_id, button_ids(again)[3], user=fake.admin_id)
    shown = await click.wait_for(ActionKind.EDIT_ORIGINAL, timeout=SLOW)
    assert shown.embeds[0]["description"].startswith(f"Dropped `{dropped_id}`")
    later = await open_review(fake)
    assert all(f":{dropped_id}" not in b for b in button_ids(later))

    handle = await fake.send_interaction("issues suggest")  # a member
    denied = await handle.reply()
    assert denied.ephemeral and "admins" in denied.content
