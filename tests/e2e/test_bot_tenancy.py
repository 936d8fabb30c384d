"""Every server is its own tenant: two guilds in one fake Discord, the real bot and model.

Server A's admin adds an article to A's library; server B's admin and members must not see,
remove, reindex or audit it, nor read A's feedback, and A's members never get B's articles.
/whatsnew and /settings are per server; a DM reads the global library; only the bot's owner
changes the global library; a server the bot left is purged after the retention period, and
nothing else is. Each test was run with its protection taken out and fails there
(docs/RELIABILITY.md, "Servers are tenants").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from fake_discord import ActionKind, BotAction, FakeDiscord, Upload

from tenancy.retention import server_summaries

from .bot_harness import (
    BUNDLED_QUESTION,
    FIXTURE_ARTICLES,
    PRAIRIE_QUESTION,
    article_upload,
    citation_fields,
    library_of,
    recorded_answer,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(90)]

SLOW = 20.0
NOT_COVERED = "My articles don't cover that."
BAY_STREET = FIXTURE_ARTICLES / "2018-10-01-bay-street-bulletin-usmca-deal.html"
BAY_QUESTION = "How many vehicles can Canada export before the auto tariffs apply?"


@pytest.fixture
def servers(fake_discord: FakeDiscord, start_bot):
    """``async with servers(**settings) as (bot, a, b)``: the bot in two guilds, A (the fake's
    first) and B, commands synced to both."""
    b = fake_discord.add_guild("Second Server", prefix="b-")

    @contextlib.asynccontextmanager
    async def start(**overrides) -> AsyncIterator:
        overrides.setdefault("guild_ids", [fake_discord.guild_id, b.id])
        async with start_bot(**overrides) as bot:
            yield bot, fake_discord.guild(fake_discord.guild_id), b

    return start


async def ingest(fake: FakeDiscord, admin: int, channel: int, upload: Upload) -> BotAction:
    handle = await fake.send_interaction(
        "ingest", user=admin, channel_id=channel, attachments={"file": upload}
    )
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.content.startswith("Added"), reply.content
    return reply


async def ask(fake: FakeDiscord, question: str, *, channel: int, user: int) -> BotAction:
    handle = await fake.send_interaction(
        "ask", {"question": question}, user=user, channel_id=channel
    )
    return await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)


def bay_upload() -> Upload:
    return Upload(BAY_STREET.name, BAY_STREET.read_bytes(), "text/html")


async def test_members_get_their_own_servers_articles_and_the_global_ones(
    fake_discord: FakeDiscord, servers
) -> None:
    fake = fake_discord
    async with servers() as (_bot, a, b):
        await ingest(fake, a.admin_id, a.channel_id, article_upload())
        await ingest(fake, b.admin_id, b.channel_id, bay_upload())

        in_a = await ask(fake, PRAIRIE_QUESTION, channel=a.channel_id, user=a.member_id)
        assert "10 years" in in_a.text and "from this server's library" in in_a.text
        # B's members never get A's article, A's never B's, by /ask or by mention.
        in_b = await ask(fake, PRAIRIE_QUESTION, channel=b.channel_id, user=b.member_id)
        assert in_b.content.startswith(NOT_COVERED) and "Prairie Times" not in in_b.text
        assert (
            "Bay Street Bulletin"
            not in (await ask(fake, BAY_QUESTION, channel=a.channel_id, user=a.member_id)).text
        )
        await fake.send_message(
            BAY_QUESTION, channel_id=b.channel_id, author=b.member_id, mentions_bot=True
        )
        answer_b = await fake.wait_for_message(channel_id=b.channel_id, timeout=SLOW)
        assert "2.6 million" in answer_b.text
        await fake.send_message(
            BAY_QUESTION, channel_id=a.channel_id, author=a.member_id, mentions_bot=True
        )
        answer_a = await fake.wait_for_message(channel_id=a.channel_id, timeout=SLOW)
        assert "Bay Street Bulletin" not in answer_a.text
        # Both still read the global library (the bundled corpus), cited as such.
        for guild in (a, b):
            shared = await ask(
                fake, BUNDLED_QUESTION, channel=guild.channel_id, user=guild.member_id
            )
            assert "m-i-l-k" in shared.text
            assert any("from the global library" in f["value"] for f in citation_fields(shared))


async def test_b_admin_cannot_see_or_remove_a_articles(fake_discord: FakeDiscord, servers) -> None:
    fake = fake_discord
    async with servers() as (bot, a, b):
        added = await ingest(fake, a.admin_id, a.channel_id, article_upload())
        a_article = next(a_.id for a_ in library_of(bot, a.id).engine.articles())
        assert a_article in added.content

        # /remove autocomplete in B lists none of A's articles; A's admin sees them.
        typing = await fake.send_autocomplete(
            "remove", {"article_id": ""}, "article_id", user=b.admin_id, channel_id=b.channel_id
        )
        assert (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices == []
        typing = await fake.send_autocomplete(
            "remove", {"article_id": ""}, "article_id", user=a.admin_id, channel_id=a.channel_id
        )
        assert [c["value"] for c in (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices] == [
            a_article
        ]
        # /sources in B does not list it.
        sources = await fake.send_interaction("sources", user=b.member_id, channel_id=b.channel_id)
        assert "Prairie Times" not in (await sources.wait_for(ActionKind.FOLLOWUP)).text
        # B's admin, given the id, cannot remove it: B's library has no such article.
        removal = await fake.send_interaction(
            "remove", {"article_id": a_article}, user=b.admin_id, channel_id=b.channel_id
        )
        told = await removal.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert told.ephemeral and "no article with id" in told.content
        assert [x.id for x in library_of(bot, a.id).engine.articles()] == [a_article]
        assert (library_of(bot, a.id).articles_dir / f"{a_article}.md").is_file()
        # A's admin, a plain member of B, is no admin there.
        fake.state.join(a.admin_id, b.id)
        handle = await fake.send_interaction(
            "ingest",
            user=a.admin_id,
            channel_id=b.channel_id,
            attachments={"file": article_upload()},
            bypass_permissions=True,
        )
        assert "Only server admins" in (await handle.reply()).content
        assert library_of(bot, b.id).engine.articles() == []


async def test_b_admin_reindex_leaves_a_library_alone(fake_discord: FakeDiscord, servers) -> None:
    fake = fake_discord
    async with servers() as (bot, a, b):
        await ingest(fake, a.admin_id, a.channel_id, article_upload())
        version = library_of(bot, a.id).engine.index.version
        # B has no articles of its own: nothing is rebuilt, and B's admin is told so.
        empty = await fake.send_interaction("reindex", user=b.admin_id, channel_id=b.channel_id)
        assert "no articles of its own" in (await empty.reply()).content
        await ingest(fake, b.admin_id, b.channel_id, bay_upload())
        handle = await fake.send_interaction("reindex", user=b.admin_id, channel_id=b.channel_id)
        done = await handle.wait_for(
            ActionKind.EDIT_ORIGINAL, predicate=lambda x: "finished" in x.content, timeout=SLOW
        )
        assert "this server's 1 article, " in done.content  # B's own library only
        assert library_of(bot, a.id).engine.index.version == version
        answer = await ask(fake, PRAIRIE_QUESTION, channel=a.channel_id, user=a.member_id)
        assert "10 years" in answer.text


async def test_b_admin_cannot_read_a_audit_or_feedback(fake_discord: FakeDiscord, servers) -> None:
    fake = fake_discord
    async with servers() as (bot, a, b):
        await ingest(fake, a.admin_id, a.channel_id, article_upload())
        answer = await ask(fake, PRAIRIE_QUESTION, channel=a.channel_id, user=a.member_id)
        await recorded_answer(bot, answer.message_id, server_id=a.id)
        click = await fake.send_component(
            answer.message_id, "tradetalk:vote:down", user=a.member_id
        )
        assert "👎 is recorded" in (await click.reply()).content

        audit_b = await fake.send_interaction("audit", user=b.admin_id, channel_id=b.channel_id)
        shown = (await audit_b.wait_for(ActionKind.FOLLOWUP)).text
        assert (
            str(a.admin_id) not in shown and "Prairie" not in shown and "beyond-milk" not in shown
        )
        assert "No admin actions recorded yet." in shown
        feedback_b = await fake.send_interaction(
            "feedback", user=b.admin_id, channel_id=b.channel_id
        )
        summary = (await feedback_b.wait_for(ActionKind.FOLLOWUP)).text
        assert PRAIRIE_QUESTION not in summary and "0 answers recorded" in summary

        # In A, its admin sees both.
        audit_a = await fake.send_interaction("audit", user=a.admin_id, channel_id=a.channel_id)
        assert str(a.admin_id) in (await audit_a.wait_for(ActionKind.FOLLOWUP)).text
        feedback_a = await fake.send_interaction(
            "feedback", user=a.admin_id, channel_id=a.channel_id
        )
        assert PRAIRIE_QUESTION in (await feedback_a.wait_for(ActionKind.FOLLOWUP)).text


async def test_whatsnew_is_per_server(fake_discord: FakeDiscord, servers) -> None:
    fake = fake_discord

    async def whatsnew(guild) -> str:
        handle = await fake.send_interaction(
            "whatsnew", user=guild.member_id, channel_id=guild.channel_id
        )
        return (await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).text

    async with servers() as (_bot, a, b):
        await ingest(fake, a.admin_id, a.channel_id, article_upload())
        await ingest(fake, b.admin_id, b.channel_id, bay_upload())
        in_b = await whatsnew(b)
        assert "Bay Street Bulletin" in in_b and "Prairie Times" not in in_b
        # B's check used up nothing of A's.
        in_a = await whatsnew(a)
        assert "Prairie Times" in in_a and "Bay Street Bulletin" not in in_a
        # And A's check nothing of B's: each has seen its own, and only its own.
        assert "Bay Street Bulletin" not in await whatsnew(b)
        assert "Prairie Times" not in await whatsnew(a)


async def test_settings_channels_hold_for_mentions_and_ask(
    fake_discord: FakeDiscord, servers
) -> None:
    fake = fake_discord
    async with servers() as (_bot, a, b):
        news = a.channel_ids["trade-news"]
        handle = await fake.send_interaction(
            "settings", {"channels": f"<#{news}>"}, user=a.admin_id, channel_id=a.channel_id
        )
        shown = await handle.wait_for(ActionKind.FOLLOWUP)
        assert shown.ephemeral and f"<#{news}> *(set here)*" in shown.text

        # In #general of A: a mention gets nothing, /ask a private pointer to #trade-news.
        await fake.send_message(BUNDLED_QUESTION, channel_id=a.channel_id, mentions_bot=True)
        handle = await fake.send_interaction(
            "ask", {"question": BUNDLED_QUESTION}, channel_id=a.channel_id
        )
        refused = await handle.reply()
        assert refused.kind == ActionKind.RESPONSE and refused.ephemeral
        assert f"<#{news}>" in refused.content
        # In #trade-news, and in a thread of it, both are answered.
        await fake.send_message(BUNDLED_QUESTION, channel_id=news, mentions_bot=True)
        assert "m-i-l-k" in (await fake.wait_for_message(channel_id=news, timeout=SLOW)).text
        assert "m-i-l-k" in (await ask(fake, BUNDLED_QUESTION, channel=news, user=a.member_id)).text
        thread = await fake.create_thread(news, "deal watch")
        await fake.send_message(BUNDLED_QUESTION, channel_id=thread, mentions_bot=True)
        assert "m-i-l-k" in (await fake.wait_for_message(channel_id=thread, timeout=SLOW)).text
        assert not fake.actions.matching(
            lambda x: x.kind == ActionKind.MESSAGE and x.channel_id == a.channel_id
        )
        # B's settings are its own: its #general still gets answers.
        await fake.send_message(
            BUNDLED_QUESTION, channel_id=b.channel_id, author=b.member_id, mentions_bot=True
        )
        assert "m-i-l-k" in (await fake.wait_for_message(channel_id=b.channel_id)).text

        # Another server's channel is refused; so is a member; "default" restores the default.
        other = await fake.send_interaction(
            "settings", {"channels": f"<#{b.channel_id}>"}, user=a.admin_id, channel_id=news
        )
        assert "is not a text channel of this server" in (await other.reply()).text
        member = await fake.send_interaction(
            "settings", {"channels": "all"}, channel_id=news, bypass_permissions=True
        )
        assert "Only server admins" in (await member.reply()).content
        reset = await fake.send_interaction(
            "settings", {"reset": "channels"}, user=a.admin_id, channel_id=news
        )
        assert "every channel *(default)*" in (await reset.wait_for(ActionKind.FOLLOWUP)).text
        await fake.send_message(BUNDLED_QUESTION, channel_id=a.channel_id, mentions_bot=True)
        assert "m-i-l-k" in (await fake.wait_for_message(channel_id=a.channel_id)).text


async def test_a_dm_is_answered_from_the_global_library(fake_discord: FakeDiscord, servers) -> None:
    fake = fake_discord
    # Commands synced globally, so Discord offers /about in DMs too.
    async with servers(guild_ids=[]) as (_bot, a, _b):
        await ingest(fake, a.admin_id, a.channel_id, article_upload())
        dm = fake.dm_channel(a.member_id)
        await fake.send_message(PRAIRIE_QUESTION, channel_id=dm)  # no mention needed in a DM
        reply = await fake.wait_for_message(channel_id=dm, timeout=SLOW)
        assert reply.content.startswith(NOT_COVERED)  # A's article is A's, not the DM's
        await fake.send_message(BUNDLED_QUESTION, channel_id=dm)
        answer = await fake.wait_for_message(channel_id=dm, timeout=SLOW)
        assert "m-i-l-k" in answer.text
        about = await fake.send_interaction("about", channel_id=dm)
        text = (await about.wait_for(ActionKind.FOLLOWUP)).text
        assert "In direct messages I answer from the global library only" in text
        assert "**1 news article**" in text
        with pytest.raises(PermissionError):  # admin commands are not offered in DMs
            await fake.send_interaction("ingest", channel_id=dm)


async def test_only_the_owner_manages_the_global_library(
    fake_discord: FakeDiscord, servers, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    owner = fake.owner_id  # the application's owner (also A's owner)
    async with servers() as (bot, a, b):
        for admin, guild in ((a.admin_id, a), (b.admin_id, b)):
            handle = await fake.send_interaction(
                "global ingest",
                user=admin,
                channel_id=guild.channel_id,
                attachments={"file": article_upload()},
            )
            refused = await handle.reply()
            assert refused.ephemeral and "Only the bot's owner" in refused.content
        assert [x.id for x in bot.engine.articles()] == [bot.engine.articles()[0].id]
        refusals = [r.getMessage() for r in caplog.records if "not the owner" in r.getMessage()]
        assert any(str(b.admin_id) in m and f"in server {b.id}" in m for m in refusals)
        assert [e.outcome for e in bot.libraries.global_audit.recent()] == ["refused", "refused"]

        handle = await fake.send_interaction(
            "global ingest",
            user=owner,
            channel_id=a.channel_id,
            attachments={"file": article_upload()},
        )
        assert (await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith(
            "Added"
        )
        # Now every server reads it, cited as the global library's.
        for guild in (a, b):
            answer = await ask(
                fake, PRAIRIE_QUESTION, channel=guild.channel_id, user=guild.member_id
            )
            assert "10 years" in answer.text
        # A server's admin can't remove it (not in their library) ...
        removal = await fake.send_interaction(
            "remove",
            {"article_id": bot.engine.articles()[-1].id},
            user=b.admin_id,
            channel_id=b.channel_id,
        )
        assert "no article with id" in (await removal.wait_for(ActionKind.FOLLOWUP)).content
        # ... nor list it through /global's autocomplete; the owner can.
        typing = await fake.send_autocomplete(
            "global remove",
            {"article_id": ""},
            "article_id",
            user=b.admin_id,
            channel_id=b.channel_id,
        )
        assert (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices == []
        typing = await fake.send_autocomplete(
            "global remove", {"article_id": ""}, "article_id", user=owner, channel_id=a.channel_id
        )
        [choice] = (await typing.wait_for(ActionKind.AUTOCOMPLETE)).choices
        removed = await fake.send_interaction(
            "global remove", {"article_id": choice["value"]}, user=owner, channel_id=a.channel_id
        )
        assert (await removed.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith(
            "Removed"
        )
    # TRADETALK_OWNER_IDS names more owners: B's admin, here.
    async with servers(owner_ids=[b.admin_id]) as (bot, a, b):
        handle = await fake.send_interaction(
            "global ingest",
            user=b.admin_id,
            channel_id=b.channel_id,
            attachments={"file": article_upload()},
        )
        assert (await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith(
            "Added"
        )


async def test_leaving_then_purging_removes_that_servers_data_only(
    fake_discord: FakeDiscord, servers
) -> None:
    fake = fake_discord
    async with servers(retention_days=0) as (bot, a, b):
        for guild, upload in ((a, article_upload()), (b, bay_upload())):
            await ingest(fake, guild.admin_id, guild.channel_id, upload)
            answer = await ask(
                fake, BUNDLED_QUESTION, channel=guild.channel_id, user=guild.member_id
            )
            await recorded_answer(bot, answer.message_id, server_id=guild.id)
        a_root, b_root = library_of(bot, a.id).root, library_of(bot, b.id).root
        a_files = sorted(p.relative_to(a_root) for p in a_root.rglob("*") if p.is_file())
        global_articles = bot.engine.articles()

        await fake.remove_bot(b.id)
        for _ in range(200):  # GUILD_DELETE reaches the bot as a gateway event
            if bot.get_guild(b.id) is None and (b_root / "settings.sqlite").exists():
                break
            await asyncio.sleep(0.02)
        assert b_root.is_dir()  # kept until the sweep: here retention is 0 days
        assert [s.server_id for s in server_summaries(bot.settings) if s.left_at] == [b.id]

        assert await bot.purge_expired() == [b.id]
        assert not b_root.exists()
        assert sorted(p.relative_to(a_root) for p in a_root.rglob("*") if p.is_file()) == a_files
        assert bot.engine.articles() == global_articles
        assert [s.server_id for s in server_summaries(bot.settings)] == [a.id]
        answer = await ask(fake, PRAIRIE_QUESTION, channel=a.channel_id, user=a.member_id)
        assert "10 years" in answer.text

        # Invited back, a server starts afresh; a server that rejoins in time is not purged.
        await fake.add_bot(b.id)
        for _ in range(200):
            if bot.get_guild(b.id) is not None:
                break
            await asyncio.sleep(0.02)
        await ingest(fake, b.admin_id, b.channel_id, bay_upload())
        assert await bot.purge_expired() == []


async def test_follow_up_inside_a_thread_is_understood_in_context(
    fake_discord: FakeDiscord, servers
) -> None:
    fake = fake_discord
    first, follow_up = "What did Kudlow say?", "and Freeland?"
    freeland = "We had a very productive, constructive conversation"
    async with servers() as (bot, a, _b):
        alone = await asyncio.to_thread(bot.libraries.ask, a.id, follow_up)
        assert freeland not in alone.sentences[0].text  # otherwise this test proves nothing

        thread = await fake.create_thread(a.channel_id, "Kudlow and Freeland")
        await fake.send_message(first, channel_id=thread, mentions_bot=True)
        await fake.wait_for_message(channel_id=thread, timeout=SLOW)
        # A new message in the thread, not a reply to the answer: the thread is the context.
        await fake.send_message(follow_up, channel_id=thread, mentions_bot=True)
        second = await fake.wait_for_message(channel_id=thread, timeout=SLOW)
        assert second.embeds[0]["title"] == "What did Freeland say?"
        assert second.embeds[0]["description"].startswith(f"“{freeland}")
        # The same words outside the thread are a question of their own.
        await fake.send_message(follow_up, channel_id=a.channel_id, mentions_bot=True)
        outside = await fake.wait_for_message(channel_id=a.channel_id, timeout=SLOW)
        assert outside.text != second.text


async def test_settings_admin_roles_hold_in_their_server_only(
    fake_discord: FakeDiscord, servers
) -> None:
    fake = fake_discord
    async with servers() as (_bot, a, b):
        editors = await fake.create_role(a.id, "Editors")  # no permissions of its own
        editor = fake.state.add_user("editor", roles=[editors], guild_id=a.id)
        fake.state.join(editor, b.id)  # a plain member of B
        before = await fake.send_interaction(
            "audit", user=editor, channel_id=a.channel_id, bypass_permissions=True
        )
        assert "Only server admins" in (await before.reply()).content
        handle = await fake.send_interaction(
            "settings", {"admin_roles": f"<@&{editors}>"}, user=a.admin_id, channel_id=a.channel_id
        )
        assert f"<@&{editors}> *(set here)*" in (await handle.wait_for(ActionKind.FOLLOWUP)).text
        # Now an admin in A, where the role is named ...
        in_a = await fake.send_interaction(
            "audit", user=editor, channel_id=a.channel_id, bypass_permissions=True
        )
        assert (await in_a.wait_for(ActionKind.FOLLOWUP)).embeds[0]["title"] == "Audit log"
        # ... and nowhere else.
        in_b = await fake.send_interaction(
            "audit", user=editor, channel_id=b.channel_id, bypass_permissions=True
        )
        assert "Only server admins" in (await in_b.reply()).content
        # B's admin can't name A's role in B.
        other = await fake.send_interaction(
            "settings", {"admin_roles": f"<@&{editors}>"}, user=b.admin_id, channel_id=b.channel_id
        )
        assert "is not a role of this server" in (await other.reply()).text


async def test_everyone_can_never_be_an_admin_role(fake_discord: FakeDiscord, servers) -> None:
    """@everyone's role id is the server's own id. Named as an admin role it would make every
    member an admin; `/settings` refuses it, however it is written, and a plain member stays
    refused."""
    fake = fake_discord
    async with servers() as (_bot, a, _b):
        for written in (f"<@&{a.id}>", str(a.id)):
            handle = await fake.send_interaction(
                "settings", {"admin_roles": written}, user=a.admin_id, channel_id=a.channel_id
            )
            assert f"{a.id} is not a role of this server" in (await handle.reply()).text
        member = await fake.send_interaction(
            "audit", user=a.member_id, channel_id=a.channel_id, bypass_permissions=True
        )
        assert "Only server admins" in (await member.reply()).content
        shown = await fake.send_interaction("settings", user=a.admin_id, channel_id=a.channel_id)
        assert f"<@&{a.id}>" not in (await shown.wait_for(ActionKind.FOLLOWUP)).text
