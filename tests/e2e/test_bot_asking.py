"""Asking the real bot over the loopback Discord: mentions, replies, /ask, limits and faults."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from fake_discord import ABRUPT_CLOSE, ActionKind, FakeDiscord, limits

from .bot_harness import (
    BUNDLED_QUESTION,
    UNANSWERABLE,
    assert_no_pings,
    citation_fields,
    markdown_article,
    recorded_answer,
)


def unescape(text: str) -> str:
    """Discord's view of escaped text: backslash escapes and zero-width spaces are invisible."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(60)]


async def test_mention_gets_a_cited_reply(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    asked = await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    reply = await fake.wait_for_message()
    assert reply.message_reference is not None
    assert reply.message_reference["message_id"] == int(asked["id"])
    assert_no_pings(reply)
    [embed] = reply.embeds
    assert embed["title"] == BUNDLED_QUESTION
    assert "m-i-l-k" in embed["description"] and "[1]" in embed["description"]
    [field] = citation_fields(reply)
    assert field["name"] == "[1] BNN Bloomberg (Bloomberg News), 2018-09-11"
    assert field["value"].startswith("[Trump says NAFTA deal with Canada")
    assert "](https://www.bnnbloomberg.ca/" in field["value"]  # the title links the article
    buttons = reply.components[0]["components"]
    assert [b["custom_id"] for b in buttons] == [
        "tradetalk:passages",
        "tradetalk:followup",
        "tradetalk:vote:up",
        "tradetalk:vote:down",
    ]


async def test_ask_defers_then_follows_up_with_citations(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    handle = await fake_discord.send_interaction("ask", {"question": BUNDLED_QUESTION})
    defer = await handle.wait_for(ActionKind.DEFER)
    assert not defer.ephemeral
    reply = await handle.wait_for(ActionKind.FOLLOWUP)
    assert not reply.ephemeral and reply.message_id == defer.message_id
    assert_no_pings(reply)
    assert "m-i-l-k" in reply.embeds[0]["description"]
    assert citation_fields(reply)[0]["name"].startswith("[1] BNN Bloomberg")
    record = await recorded_answer(tradetalk, reply.message_id)
    assert record.question == BUNDLED_QUESTION and record.passages and not record.abstained
    click = await fake_discord.send_component(reply.message_id, "tradetalk:vote:down")
    assert "👎 is recorded" in (await click.reply()).content


async def test_unanswerable_question_gets_a_plain_not_covered_reply(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    await fake_discord.send_message(UNANSWERABLE, mentions_bot=True)
    reply = await fake_discord.wait_for_message()
    assert reply.embeds == [] and reply.components == []
    assert reply.content.startswith("My articles don't cover that.")
    assert "Trump says NAFTA deal" in reply.content  # says what it does cover
    assert_no_pings(reply)

    handle = await fake_discord.send_interaction("ask", {"question": UNANSWERABLE})
    followup = await handle.wait_for(ActionKind.FOLLOWUP)
    assert followup.content.startswith("My articles don't cover that.")


async def test_bad_question_is_explained_privately(fake_discord: FakeDiscord, tradetalk) -> None:
    handle = await fake_discord.send_interaction("ask", {"question": "zxcvbnm qwrtpsdf"})
    reply = await handle.reply()
    assert reply.kind == ActionKind.RESPONSE and reply.ephemeral
    assert "rephrase" in reply.content


async def test_follow_up_in_a_reply_chain_keeps_the_context(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake, engine = fake_discord, tradetalk.engine
    first, follow_up = "What did Kudlow say?", "and Freeland?"
    freeland = "We had a very productive, constructive conversation"
    alone = await asyncio.to_thread(engine.ask, follow_up)
    # Asked alone, it leads with Kudlow's words: only the context makes it Freeland's.
    assert freeland not in alone.sentences[0].text

    await fake.send_message(first, mentions_bot=True)
    answer = await fake.wait_for_message()
    # A reply to the answer, without mentioning the bot and without pinging it.
    await fake.send_message(follow_up, reference_message_id=answer.message_id, reply_ping=False)
    second = await fake.wait_for_message()
    assert second.embeds[0]["title"] == "What did Freeland say?"  # how it was read
    assert unescape(second.embeds[0]["description"]).startswith(f"“{freeland}")

    # After a restart the bot has forgotten; it reads the reply chain back from Discord.
    tradetalk.conversations.forget_all()
    await fake.send_message(follow_up, reference_message_id=answer.message_id)
    third = await fake.wait_for_message()
    assert third.embeds[0]["description"] == second.embeds[0]["description"]


async def test_article_text_with_everyone_pings_nobody(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    member = fake.member_id
    body = (
        f"Union leaders told @everyone at the Hamilton mill, <@{member}> included, that the "
        "aluminium tariff would cost the plant 400 jobs by spring. The company said it was "
        "reviewing its options for the smelter and its suppliers in the region."
    )
    data = markdown_article("Mill warns @everyone of tariff job cuts", "Harbour Herald", body)
    await asyncio.to_thread(tradetalk.engine.ingest_bytes, data, "mill.md")

    await fake.send_message("How many jobs would the aluminium tariff cost?", mentions_bot=True)
    reply = await fake.wait_for_message()
    assert_no_pings(reply)
    assert "400 jobs" in reply.text
    assert "everyone" in reply.text and "@everyone" not in reply.text  # shown, escaped
    assert fake.state.messages[reply.message_id]["mention_everyone"] is False


async def test_oversized_answer_stays_within_discord_limits(
    fake_discord: FakeDiscord, start_bot, tmp_path
) -> None:
    fake = fake_discord
    filler = " ".join(f"clause{n} of the annex covers ```code``` and **bold**" for n in range(400))
    # One 22,000-character sentence (the engine cuts it into passage-sized pieces, each still
    # far over an embed field), a 580-character title, a 420-character outlet name.
    body = f"Negotiators agreed the zebra quota would rise to 9,000 head, and {filler}."
    data = markdown_article(
        "Zebra quota " + "very long headline " * 30,
        "Outlet " * 60,
        body,
        url="https://example.org/" + "long-path/" * 150,
    )
    (tmp_path / "no-bundled").mkdir()
    async with start_bot(bundled_dir=tmp_path / "no-bundled") as bot:
        await asyncio.to_thread(bot.engine.ingest_bytes, data, "zebra.md")
        question = "What will the zebra quota rise to?"
        await fake.send_message(question, mentions_bot=True)
        reply = await fake.wait_for_message()
        handle = await fake.send_interaction("ask", {"question": question})
        followup = await handle.wait_for(ActionKind.FOLLOWUP)
    for shown in (reply, followup):
        assert "9,000 head" in shown.text
        # What Discord would accept: the embed, and the buttons (no link button for an
        # address over Discord's 512 characters).
        limits.check_message({"embeds": shown.embeds, "components": shown.components})
        [field] = citation_fields(shown)
        # The outlet cut between words; the title shown without its link, too long to fit.
        assert field["name"].startswith("[1] Outlet Outlet") and " …, 2018-09-30" in field["name"]
        assert field["value"].startswith("Zebra quota very long headline")
        assert "](http" not in field["value"]
    assert not fake.rejections.matching(lambda r: r.code == limits.INVALID_FORM_BODY)


async def test_cooldown_notice(fake_discord: FakeDiscord, start_bot) -> None:
    fake = fake_discord
    async with start_bot(cooldown_rate=2, cooldown_seconds=60):
        for _ in range(2):
            handle = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
            await handle.wait_for(ActionKind.FOLLOWUP)
        handle = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        notice = await handle.reply()
        assert notice.kind == ActionKind.RESPONSE and notice.ephemeral
        assert re.search(r"please try again <t:\d+:R>\.$", notice.content)

        # The same member mentioning the bot is told once, in a reply, then left alone.
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
        told = await fake.wait_for_message()
        assert "please try again <t:" in told.content and not told.embeds
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
        # Another member is not held up by it, and their answer comes after the ignored one.
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True, author=fake.admin_id)
        other = await fake.wait_for_message()
        assert other.embeds
        assert len(fake.actions.matching(lambda a: a.kind == ActionKind.MESSAGE)) == 2


async def test_gateway_drop_then_resume_keeps_answering(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    for code in (4000, ABRUPT_CLOSE):
        await fake.drop_gateway(code)
        await fake.wait_for_gateway_op(6)  # RESUME
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
        reply = await fake.wait_for_message()
        assert "m-i-l-k" in reply.text
    assert len(fake.gateway_ops(2)) == 1  # resumed each time, never re-identified


async def test_rate_limited_reply_is_retried(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    fake.fail_next("POST /channels/*/messages", status=429, retry_after=0.05)
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    reply = await fake.wait_for_message()
    assert "m-i-l-k" in reply.text
    assert fake.request_count("POST /channels/{channel_id}/messages") == 2
    assert (await fake.wait_for_rejection(status=429)).body["retry_after"] == 0.05


async def test_unexpected_failure_is_private_with_an_error_id(
    fake_discord: FakeDiscord, tradetalk, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    for segment in tradetalk.engine.index.segments:  # its passage stores become unreadable
        segment.records.close()
    with caplog.at_level(logging.ERROR, logger="bot.replies"):
        handle = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        await handle.wait_for(ActionKind.DEFER)
        # The public "thinking…" placeholder goes; the error is shown to the asker only.
        await handle.wait_for(ActionKind.DELETE_ORIGINAL)
        reply = await handle.wait_for(ActionKind.FOLLOWUP)
    assert reply.ephemeral
    error_id = re.fullmatch(r"Something went wrong \(error ([0-9a-f]{8})\)\.", reply.content)
    assert error_id is not None
    [record] = [r for r in caplog.records if error_id[1] in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log, not in Discord

    # A mention's failure is told privately too: in a direct message to the asker.
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    told = await fake.wait_for_message(channel_id=fake.dm_channel(fake.member_id))
    assert re.fullmatch(
        rf"About your question in <#{fake.channel_id}>: Something went wrong \(error [0-9a-f]{{8}}\)\.",
        told.content,
    )


async def test_bare_mention_gets_help(fake_discord: FakeDiscord, tradetalk) -> None:
    await fake_discord.send_message("", mentions_bot=True)
    reply = await fake_discord.wait_for_message()
    assert "Ask me about the trade talks" in reply.content and "/about" in reply.content


async def test_answers_only_in_configured_channels(fake_discord: FakeDiscord, start_bot) -> None:
    fake = fake_discord
    news = fake.channels["trade-news"]
    async with start_bot(channel_ids=[news]):
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)  # in #general
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True, channel_id=news)
        reply = await fake.wait_for_message()
        assert reply.channel_id == news and "m-i-l-k" in reply.text
        assert not fake.actions.matching(lambda a: a.channel_id == fake.channel_id)


async def test_late_interaction_is_still_answered_in_the_channel(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    # Discord created it 4 s ago (the bot was unreachable): too late to acknowledge.
    await fake.send_interaction("ask", {"question": BUNDLED_QUESTION}, age=4.0)
    assert (await fake.wait_for_rejection(code=limits.UNKNOWN_INTERACTION)).status == 404
    posted = await fake.wait_for_message()
    assert "m-i-l-k" in posted.text and posted.interaction_id is None
    assert_no_pings(posted)
