"""Feeds on the real bot over the loopback Discord, with the real model: an admin follows a
feed served locally, its new items become answerable and a digest goes to the chosen channel;
/feeds shows how each feed is doing; /unfollow; what a non-admin and a bad link get."""

from __future__ import annotations

import asyncio
import re

import pytest
from fake_discord import ActionKind, FakeDiscord
from feeds_site import CHEESE, FERRY, LONG_PATH, LUMBER, PANELS, NewsSite, serving

from corpus.articles import fetched_article_id
from feeds.store import FeedStore

from .bot_harness import LoopWatch, assert_no_pings, library_of

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(120)]

SLOW = 30.0  # a round fetches and embeds two articles with the real model


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


async def test_a_followed_feed_is_answerable_with_a_digest_in_the_chosen_channel(
    fake_discord: FakeDiscord, start_bot
) -> None:
    fake = fake_discord
    news = fake.channels["trade-news"]
    async with (
        serving(NewsSite()) as site,
        start_bot(allow_private_urls=True, feed_check_seconds=0.2) as bot,
    ):
        watch = await LoopWatch().start()
        handle = await fake.send_interaction(
            "follow", {"url": site.url("rss.xml"), "channel": news}, user=fake.admin_id
        )
        assert (await handle.wait_for(ActionKind.DEFER)).ephemeral
        reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert reply.ephemeral and reply.content.startswith("Following <")
        assert "Harbour Times: Trade" in reply.content and f"<#{news}>" in reply.content

        digest = await fake.wait_for_message(channel_id=news, timeout=SLOW)
        assert_no_pings(digest)
        shown = unescape(digest.content)
        assert shown.startswith("**New from the feeds: 2 articles**")
        cheese = f"• [{CHEESE.title}]({site.url('news/cheese-quota.html')})"
        assert f"{cheese} — 127.0.0.1, as Harbour Times, 2018-09-20" in shown
        assert PANELS.title in shown and "Lakeview Courier" in shown
        assert site.url("news/cheese-quota.html") in shown
        developments = shown.splitlines()[-1]
        assert developments.startswith("New developments on: ")
        assert "Dairy" in developments and "Chapter 19" in developments
        # Polling, fetching and embedding never held up the event loop (nor the heartbeat).
        assert await watch.stop() < 1.0

        asked = await fake.send_interaction(
            "ask",
            {"question": "How many tonnes of cheese would the latest offer let in duty free?"},
            user=fake.member_id,
        )
        answer = await asked.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert "18,500 tonnes" in answer.text and "Harbour Times" in answer.text
        assert "from this server's library" in answer.text

        listed = await fake.send_interaction("feeds", user=fake.admin_id)
        embed = (await listed.wait_for(ActionKind.FOLLOWUP)).embeds[0]
        assert embed["title"] == "Followed feeds (1)"
        text = unescape(embed["description"])
        assert "Harbour Times: Trade" in text and "2 articles" in text
        assert re.search(r"last success <t:\d{10}:R>", text) and "last error" not in text

        own = library_of(bot, fake.guild_id)
        trail = [(e.actor, e.action, e.outcome) for e in own.audit.recent()]
        assert ("feed", "ingest", "ok") in trail
        assert any(
            a.startswith(f"discord:{fake.admin_id} ") and act == "follow" for a, act, _ in trail
        )

        typing = await fake.send_autocomplete(
            "unfollow", {"url": "harbour"}, "url", user=fake.admin_id
        )
        [choice] = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
        assert choice["value"] == site.url("rss.xml")
        gone = await fake.send_interaction("unfollow", {"url": choice["value"]}, user=fake.admin_id)
        done = await gone.wait_for(ActionKind.FOLLOWUP)
        assert (
            done.ephemeral
            and "Stopped following" in done.content
            and "2 articles" in (done.content)
        )
        # They stay, in this server's library (not the global one).
        assert {a.title for a in own.engine.articles()} == {CHEESE.title, PANELS.title}
        assert not [a for a in bot.engine.articles() if not a.bundled]
        assert (own.root / "feeds.sqlite3").is_file()
        assert not (bot.settings.data_dir / "feeds.sqlite3").exists()


async def test_the_bots_loop_meets_poison_items_and_the_round_goes_on(
    fake_discord: FakeDiscord, start_bot
) -> None:
    """The bot's own loop, two feeds of one server: one lists an item whose link is one
    300-letter word (every round of the library used to fail on it, "File name too long", and
    the other feed's items never went in) and an item whose article file can't be written (a
    folder in its place). The first is added under a short id, the second is that item's
    error, retried and given up; everything else goes in and is announced and answerable."""
    fake = fake_discord
    news = fake.channels["trade-news"]
    async with (
        serving(NewsSite()) as site,
        start_bot(allow_private_urls=True, feed_check_seconds=0.2) as bot,
    ):
        lumber = site.url(f"news/{LUMBER.slug}.html")
        articles = bot.settings.data_dir / "servers" / str(fake.guild_id) / "articles"
        (articles / f"{fetched_article_id(lumber)}.md").mkdir(parents=True)
        watch = await LoopWatch().start()
        try:
            for feed in ("poison.xml", "rss.xml"):
                handle = await fake.send_interaction(
                    "follow", {"url": site.url(feed), "channel": news}, user=fake.admin_id
                )
                reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
                assert reply.content.startswith("Following <"), reply.content
            announced = ""
            while not all(t in announced for t in (FERRY.title, CHEESE.title, PANELS.title)):
                digest = await fake.wait_for_message(channel_id=news, timeout=SLOW)
                announced += unescape(digest.content)
        finally:
            stalled = await watch.stop()
        assert LUMBER.title not in announced
        assert stalled < 1.0

        own = library_of(bot, fake.guild_id)
        ferry = next(a for a in own.engine.articles() if a.title == FERRY.title)
        assert ferry.fetched_from == site.url(f"news/{LONG_PATH}.html") and len(ferry.id) < 120
        asked = await fake.send_interaction(
            "ask",
            {"question": "How long do trucks wait at each ferry landing?"},
            user=fake.member_id,
        )
        assert "three hours" in (await asked.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).text

        store = FeedStore(own.root)
        for _ in range(200):  # the lumber item is retried in the next rounds, then given up
            [item] = [i for i in store.items() if i.link == lumber]
            if item.state == "failed":
                break
            await asyncio.sleep(0.1)
        assert (item.state, item.attempts) == ("failed", 3)
        assert {i.state for i in store.items() if i.link != lumber} == {"ingested"}
        assert site.requests[f"/news/{LONG_PATH}.html"] == 1
        store.close()


async def test_a_link_that_is_not_a_feed_is_refused_with_the_reason(
    fake_discord: FakeDiscord, start_bot
) -> None:
    fake = fake_discord
    async with serving(NewsSite()) as site, start_bot(allow_private_urls=True) as bot:
        handle = await fake.send_interaction(
            "follow", {"url": site.url("broken.xml")}, user=fake.admin_id
        )
        reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert reply.ephemeral and "not an RSS, Atom or RDF feed" in reply.content
        assert "Traceback" not in reply.content
        page = await fake.send_interaction(
            "follow", {"url": site.url("news/cheese-quota.html")}, user=fake.admin_id
        )
        assert (
            "not an RSS, Atom or RDF feed"
            in (await page.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content
        )
        listed = await fake.send_interaction("feeds", user=fake.admin_id)
        assert (await listed.wait_for(ActionKind.FOLLOWUP)).embeds[0]["title"] == (
            "Followed feeds (0)"
        )
        audit = library_of(bot, fake.guild_id).audit
        assert [(e.action, e.outcome) for e in audit.recent()][:2] == [
            ("follow", "failed"),
            ("follow", "failed"),
        ]


async def test_feed_commands_refuse_a_non_admin(fake_discord: FakeDiscord, start_bot) -> None:
    fake = fake_discord
    async with serving(NewsSite()) as site, start_bot(allow_private_urls=True) as bot:
        for name, options in (
            ("follow", {"url": site.url("rss.xml")}),
            ("unfollow", {"url": site.url("rss.xml")}),
            ("feeds", {}),
        ):
            handle = await fake.send_interaction(name, options, bypass_permissions=True)
            reply = await handle.reply()
            assert reply.ephemeral and "Only server admins" in reply.content
        assert site.requests["/rss.xml"] == 0  # nothing fetched for them
        audit = library_of(bot, fake.guild_id).audit
        assert [e.outcome for e in audit.recent()] == ["refused"] * 3


async def test_server_b_cannot_see_or_unfollow_server_a_feeds(
    fake_discord: FakeDiscord, start_bot
) -> None:
    fake = fake_discord
    b = fake.add_guild("Second Server", prefix="b-")
    a_channel = fake.channels["trade-news"]
    async with (
        serving(NewsSite()) as site,
        start_bot(
            allow_private_urls=True, feed_check_seconds=0.2, guild_ids=[fake.guild_id, b.id]
        ) as bot,
    ):
        handle = await fake.send_interaction(
            "follow", {"url": site.url("rss.xml"), "channel": a_channel}, user=fake.admin_id
        )
        assert (await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith(
            "Following <"
        )
        await fake.wait_for_message(channel_id=a_channel, timeout=SLOW)  # A's digest

        # B's admin: /feeds lists nothing, autocomplete offers nothing, /unfollow is refused.
        listed = await fake.send_interaction("feeds", user=b.admin_id, channel_id=b.channel_id)
        assert (await listed.wait_for(ActionKind.FOLLOWUP)).embeds[0]["title"] == (
            "Followed feeds (0)"
        )
        typing = await fake.send_autocomplete(
            "unfollow", {"url": "harbour"}, "url", user=b.admin_id, channel_id=b.channel_id
        )
        assert (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices == []
        gone = await fake.send_interaction(
            "unfollow", {"url": site.url("rss.xml")}, user=b.admin_id, channel_id=b.channel_id
        )
        told = await gone.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert told.ephemeral and "is not followed" in told.content
        # B's digest channel gets nothing; B's members don't get A's feed articles.
        posted = fake.messages_seen()
        assert not [m for m in posted if m.kind == ActionKind.MESSAGE and m.channel_id != a_channel]
        asked = await fake.send_interaction(
            "ask",
            {"question": "How many tonnes of cheese would the latest offer let in duty free?"},
            user=b.member_id,
            channel_id=b.channel_id,
        )
        assert "18,500" not in (await asked.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).text

        # A's feed is untouched and still listed for A's admin.
        listed = await fake.send_interaction("feeds", user=fake.admin_id)
        assert (await listed.wait_for(ActionKind.FOLLOWUP)).embeds[0]["title"] == (
            "Followed feeds (1)"
        )
        assert library_of(bot, b.id).audit.recent()[0].action == "unfollow"
        assert [e.outcome for e in library_of(bot, b.id).audit.recent()][:1] == ["failed"]
