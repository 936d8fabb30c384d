"""Admin commands, the library commands and feedback, on the real bot over the loopback Discord."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from fake_discord import ActionKind, FakeDiscord, Upload

from .bot_harness import (
    BUNDLED_QUESTION,
    PRAIRIE_QUESTION,
    PRAIRIE_TIMES,
    LoopWatch,
    article_upload,
    assert_no_pings,
    citation_fields,
    library_of,
    recorded_answer,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(60)]

# For steps that embed passages or write an index build: generous, for a loaded CI machine.
SLOW = 20.0
HTML_ARTICLE = PRAIRIE_TIMES.parent / "2018-10-01-bay-street-bulletin-usmca-deal.html"
HTML_QUESTION = "How many vehicles can Canada export before the auto tariffs apply?"


async def test_admin_ingests_an_attachment_then_it_answers(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    before = await fake.send_interaction("ask", {"question": PRAIRIE_QUESTION})
    assert (await before.wait_for(ActionKind.FOLLOWUP)).content.startswith(
        "My articles don't cover that."
    )

    handle = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    assert (await handle.wait_for(ActionKind.DEFER)).ephemeral
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral
    assert reply.content.startswith("Added “Beyond milk and cars")
    assert "Prairie Times" in reply.content and "passages, answerable now" in reply.content
    assert "Known issues it touches:" in reply.content
    assert_no_pings(reply)

    await fake.send_message(PRAIRIE_QUESTION, mentions_bot=True)
    answer = await fake.wait_for_message()
    assert "10 years" in answer.embeds[0]["description"]
    assert citation_fields(answer)[0]["name"].startswith("[1] Prairie Times, 2018-10-02")

    again = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    assert "nothing changed" in (await again.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content
    # Added to this server's library, in this server's audit log.
    trail = library_of(tradetalk, fake.guild_id).audit.recent()
    assert [(e.action, e.outcome) for e in trail[:2]] == [("ingest", "unchanged"), ("ingest", "ok")]
    assert trail[1].actor.startswith(f"discord:{fake.admin_id} ")
    assert trail[1].target.startswith("2018-10-02-beyond-milk")


async def test_bad_attachment_is_refused_with_the_reason(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    upload = Upload("scan.pdf", b"%PDF-1.4 not an article", "application/pdf")
    handle = await fake.send_interaction("ingest", user=fake.admin_id, attachments={"file": upload})
    reply = await handle.wait_for(ActionKind.FOLLOWUP)
    assert reply.ephemeral and "unsupported file type" in reply.content


async def test_an_attachment_with_a_10000_letter_title_is_added(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    """Its id once passed the 255 bytes a file name may have: the admin got a bare "Something
    went wrong" and nothing was added."""
    fake = fake_discord
    body = "Negotiators from both countries met again on Friday to talk about dairy quotas.\n"
    text = f"---\ntitle: {'T' * 10_000}\ndate: 2018-09-09\n---\n\n{body}"
    upload = Upload("long-title.md", text.encode(), "text/markdown")
    handle = await fake.send_interaction("ingest", user=fake.admin_id, attachments={"file": upload})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.content.startswith("Added “TTTT"), reply.content
    [added] = library_of(tradetalk, fake.guild_id).engine.articles()
    assert added.id.startswith("2018-09-09-tttt") and len(f"{added.id}.md") < 120


async def test_non_admin_is_refused_and_nothing_changes(
    fake_discord: FakeDiscord, tradetalk, caplog: pytest.LogCaptureFixture
) -> None:
    fake, library = fake_discord, library_of(tradetalk, fake_discord.guild_id)
    engine = library.engine
    version, articles = engine.index.version, engine.articles()
    # Discord hides these commands from members; a modified client can still send them.
    with pytest.raises(PermissionError):
        await fake.send_interaction("reindex")
    for name, attachments in (("reindex", None), ("ingest", {"file": article_upload()})):
        handle = await fake.send_interaction(name, attachments=attachments, bypass_permissions=True)
        reply = await handle.reply()
        assert reply.kind == ActionKind.RESPONSE and reply.ephemeral
        assert "Only server admins" in reply.content
        assert [a.kind for a in handle.actions] == [ActionKind.RESPONSE]
    assert engine.index.version == version and engine.articles() == articles
    refusals = [r for r in caplog.records if "not an admin" in r.getMessage()]
    assert len(refusals) == 2 and all(str(fake.member_id) in r.getMessage() for r in refusals)
    assert all(f"in server {fake.guild_id}" in r.getMessage() for r in refusals)
    trail = library.audit.recent()
    assert [(e.action, e.outcome) for e in trail] == [("ingest", "refused"), ("reindex", "refused")]
    assert all(e.actor.startswith(f"discord:{fake.member_id} ") for e in trail)


async def test_admin_role_from_settings_is_an_admin(fake_discord: FakeDiscord, start_bot) -> None:
    fake = fake_discord
    role = fake.state.roles[fake.admin_role_id]
    role["permissions"] = "0"  # the role no longer grants Manage Server...
    async with start_bot(admin_role_ids=[fake.admin_role_id]):  # ...but is named an admin role
        handle = await fake.send_interaction(
            "feedback", user=fake.admin_id, bypass_permissions=True
        )
        reply = await handle.wait_for(ActionKind.FOLLOWUP)
        assert reply.embeds[0]["title"] == "Feedback on answers"


async def test_reindex_while_questions_are_asked(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    tradetalk.get_cog("Admin").progress_interval = 0.05
    # /reindex rebuilds this server's library: give it an article of its own.
    engine = library_of(tradetalk, fake.guild_id).engine
    await asyncio.to_thread(engine.ingest_path, PRAIRIE_TIMES)
    old_version = engine.index.version
    watch = await LoopWatch().start()
    handle = await fake.send_interaction("reindex", user=fake.admin_id)
    await handle.wait_for(ActionKind.DEFER)
    started = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert started.ephemeral and "Reindexing all articles" in started.content

    second = await fake.send_interaction("reindex", user=fake.admin_id)
    told = await second.reply()
    assert told.ephemeral and "already running" in told.content

    asked = [
        await fake.send_message(f"{BUNDLED_QUESTION} ({n})", mentions_bot=True) for n in range(3)
    ]
    slash = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
    replies = [await fake.wait_for_message(timeout=10) for _ in asked]
    replies.append(await slash.wait_for(ActionKind.FOLLOWUP, timeout=10))
    assert {r.message_reference["message_id"] for r in replies[:3]} == {int(m["id"]) for m in asked}
    assert all("m-i-l-k" in r.text for r in replies)

    done = await handle.wait_for(
        ActionKind.EDIT_ORIGINAL, predicate=lambda a: "finished" in a.content, timeout=SLOW
    )
    assert "this server's 1 article, " in done.content
    # Answered while the rebuild ran (not queued behind it), with progress shown meanwhile.
    assert any(r.timestamp < done.timestamp for r in replies)
    progress = [a for a in handle.actions if "passages embedded" in a.content]
    assert progress and all(a.kind == ActionKind.EDIT_ORIGINAL for a in progress)
    assert engine.index.version != old_version
    # Embedding ran in a worker thread: the event loop (gateway heartbeat included) kept going.
    assert await watch.stop() < 1.0
    # Questions after the swap are answered from the new index.
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True, author=fake.admin_id)
    assert "m-i-l-k" in (await fake.wait_for_message()).text


@contextlib.asynccontextmanager
async def article_server() -> AsyncIterator[str]:
    """A local web server with one article page; yields its base URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=HTML_ARTICLE.read_bytes(), content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/usmca.html", page)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("allowed", [True, False])
async def test_ingest_url_from_a_local_server(
    fake_discord: FakeDiscord, start_bot, allowed: bool
) -> None:
    fake = fake_discord
    async with article_server() as base, start_bot(allow_private_urls=allowed) as bot:
        engine = library_of(bot, fake.guild_id).engine
        count = len(engine.articles())
        handle = await fake.send_interaction(
            "ingest", {"url": f"{base}/usmca.html"}, user=fake.admin_id
        )
        reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert reply.ephemeral
        if allowed:
            assert reply.content.startswith("Added “Last-minute deal keeps Canada")
            await fake.send_message(HTML_QUESTION, mentions_bot=True)
            answer = await fake.wait_for_message()
            assert "2.6 million" in answer.text and "Bay Street Bulletin" in answer.text
        else:
            assert "refused" in reply.content and "127.0.0.1" in reply.content
            assert len(engine.articles()) == count


async def test_remove_with_autocomplete(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    handle = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)

    typing = await fake.send_autocomplete(
        "remove", {"article_id": "milk"}, "article_id", user=fake.admin_id
    )
    [choice] = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
    assert choice["name"].startswith("Beyond milk and cars") and "(2018-10-02)" in choice["name"]
    everything = await fake.send_autocomplete(
        "remove", {"article_id": ""}, "article_id", user=fake.admin_id
    )
    # The bundled article can't be removed, so it isn't offered.
    assert [c["value"] for c in (await everything.wait_for(ActionKind.AUTOCOMPLETE)).choices] == [
        choice["value"]
    ]
    member = await fake.send_autocomplete("remove", {"article_id": ""}, "article_id")
    assert (await member.wait_for(ActionKind.AUTOCOMPLETE)).choices == []

    removed = await fake.send_interaction(
        "remove", {"article_id": choice["value"]}, user=fake.admin_id
    )
    reply = await removed.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral and reply.content.startswith("Removed “Beyond milk and cars")

    await fake.send_message(PRAIRIE_QUESTION, mentions_bot=True)
    assert (await fake.wait_for_message()).content.startswith("My articles don't cover that.")

    # The bundled corpus is the global library's: not this server's to remove.
    bundled = tradetalk.engine.articles()[0].id
    refused = await fake.send_interaction("remove", {"article_id": bundled}, user=fake.admin_id)
    assert "no article with id" in (await refused.wait_for(ActionKind.FOLLOWUP)).content
    assert bundled in {a.id for a in tradetalk.engine.articles()}


async def test_votes_are_recorded_and_summarised(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    answer = await fake.wait_for_message()
    record = await recorded_answer(tradetalk, answer.message_id)
    assert record.question == BUNDLED_QUESTION and "m-i-l-k" in record.answer

    click = await fake.send_component(answer.message_id, "tradetalk:vote:up")
    thanks = await click.reply()
    assert thanks.ephemeral and "👍 is recorded" in thanks.content

    voter = fake.state.add_user("second-member")
    await fake.add_reaction(answer.message_id, "👎", user=voter)
    await fake.add_reaction(answer.message_id, "🎉", user=voter)  # not a vote
    library = library_of(tradetalk, fake.guild_id)
    for _ in range(100):  # reactions arrive as gateway events, handled in their own time
        if (await library.feedback_summary()).down:
            break
        await asyncio.sleep(0.02)

    handle = await fake.send_interaction("feedback", user=fake.admin_id)
    reply = await handle.wait_for(ActionKind.FOLLOWUP)
    assert reply.ephemeral
    assert "1 answer recorded, 1 of them rated: 👍 1 · 👎 1" in reply.text
    assert BUNDLED_QUESTION in reply.text and "m-i-l-k" in reply.text


async def test_sources_and_about(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    sources = await fake.send_interaction("sources")
    await sources.wait_for(ActionKind.DEFER)
    listed = await sources.wait_for(ActionKind.FOLLOWUP)
    embed = listed.embeds[0]
    assert embed["title"] == "Sources (1 article)"
    assert "Trump says NAFTA deal with Canada" in embed["description"]
    assert "BNN Bloomberg" in embed["description"] and "2018-09-11" in embed["description"]
    assert "](https://www.bnnbloomberg.ca/" in embed["description"]  # the title is the link

    about = await fake.send_interaction("about")
    shown = (await about.wait_for(ActionKind.FOLLOWUP)).embeds[0]["description"]
    assert "**1 news article** dated 2018-09-11" in shown
    assert "/ask" in shown and "Reply to one of my answers" in shown
