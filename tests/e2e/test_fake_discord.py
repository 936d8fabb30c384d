"""Self-tests of the fake Discord: a tiny real discord.py bot logs in, answers, and survives faults.

The bot here is deliberately minimal and defined in this file; the project's bot is tested
elsewhere with the same harness.
"""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from fake_discord import (
    ABRUPT_CLOSE,
    ActionKind,
    DiscordAPIError,
    FakeDiscord,
    Upload,
    connected,
    limits,
)

from .conftest import assert_no_leaked_tasks

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(20), pytest.mark.filterwarnings("error")]

NO_PINGS = discord.AllowedMentions.none()


class ConfirmView(discord.ui.View):
    @discord.ui.button(label="Confirm", custom_id="confirm")
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()  # also ends discord.py's timeout task, which client.close() leaves running
        await interaction.response.edit_message(content="Confirmed", view=None)


@app_commands.command(description="Repeat the text back")
async def echo(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.defer()
    await interaction.followup.send(text, allowed_mentions=NO_PINGS)


@echo.autocomplete("text")
async def echo_suggestions(_: discord.Interaction, current: str) -> list[app_commands.Choice]:
    return [app_commands.Choice(name=f"{current} {n}", value=f"{current} {n}") for n in (1, 2)]


@app_commands.command(description="Try to send a message one character too long")
async def toolong(interaction: discord.Interaction) -> None:
    try:
        await interaction.response.send_message("x" * 2001)
    except discord.HTTPException as exc:
        interaction.client.http_errors.append(exc)  # type: ignore[attr-defined]
        await interaction.response.send_message(f"Refused: {exc.code}", ephemeral=True)


@app_commands.command(description="Report an attachment's size")
async def size(interaction: discord.Interaction, file: discord.Attachment) -> None:
    await interaction.response.defer(ephemeral=True)
    data = await file.read()
    await interaction.followup.send(f"{file.filename}: {len(data)} bytes")


@app_commands.command(description="Show a button")
async def menu(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("Pick one", view=ConfirmView())


@app_commands.command(description="Moderators only")
@app_commands.default_permissions(manage_guild=True)
async def reset(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("Reset done", ephemeral=True)


class TinyBot(commands.Bot):
    """Replies to mentions with an embed, reacts with 👀, and has a few slash commands."""

    def __init__(self, guild_id: int, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.05
        )
        self.guild_id = guild_id
        self.inbox: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
        self.http_errors: list[discord.HTTPException] = []

    async def setup_hook(self) -> None:
        for command in (echo, toolong, size, menu, reset):
            self.tree.add_command(command)
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before re-IDENTIFYing; pointless against a local fake."""

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        await self.inbox.put(message)
        if self.user in message.mentions:
            await message.add_reaction("👀")
            embed = discord.Embed(title="TradeTalk", description=f"You said: {message.content}")
            await message.reply(embed=embed, allowed_mentions=NO_PINGS)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if self.user is not None and payload.user_id != self.user.id:
            await self.reactions.put(payload)


async def _next(queue: asyncio.Queue, timeout: float = 3.0):
    return await asyncio.wait_for(queue.get(), timeout)


# -- login and ready ----------------------------------------------------------------------------


async def test_login_ready_and_command_sync(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        assert bot.user is not None and bot.user.id == fake.bot_id
        assert bot.application_id == fake.application_id
        guild = bot.get_guild(fake.guild_id)
        assert guild is not None and not guild.unavailable
        assert {c.name for c in guild.text_channels} == set(fake.channels)
        assert guild.me.guild_permissions.send_messages
        synced = {c["name"] for c in fake.state.commands.guild_commands[fake.guild_id]}
        assert synced == {"echo", "toolong", "size", "menu", "reset"}
        # The client asked for zlib-stream yet parsed the fake's plain text frames.
        assert fake.gateway.connections[0]["query"]["compress"] == "zlib-stream"
        assert len(fake.gateway_ops(2)) == 1
        assert fake.gateway_ops(1) and bot.latency < 1  # heartbeats are acknowledged
        assert all(17 <= len(str(i)) <= 20 for i in (fake.guild_id, fake.bot_id, fake.channel_id))


async def test_json_content_type_is_exact(fake_discord: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession(fake_discord.base_url, headers=headers) as session:
        async with session.get("/api/v10/users/@me") as resp:
            assert resp.headers["Content-Type"] == "application/json"
        async with session.get("/api/v10/no/such/route") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["message"] == "404: Not Found"


async def test_wrong_token_is_login_failure(fake_discord: FakeDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with connected(TinyBot(fake_discord.guild_id), fake_discord, token="nope"):
            pass
    assert (await fake_discord.wait_for_rejection(status=401)).path == "/users/@me"


async def test_disallowed_privileged_intent_closes_4014() -> None:
    async with FakeDiscord(privileged_intents=discord.Intents.none()) as fake:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with connected(TinyBot(fake.guild_id, message_content=True), fake):
                pass
    await assert_no_leaked_tasks()


async def test_identify_rejected_with_4004(fake_discord: FakeDiscord) -> None:
    fake_discord.reject_next_identify(4004)
    with pytest.raises(discord.ConnectionClosed) as info:
        async with connected(TinyBot(fake_discord.guild_id), fake_discord):
            pass
    assert info.value.code == 4004


# -- messages -----------------------------------------------------------------------------------


async def test_mention_gets_embed_reply_without_pings(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        asked = await fake.send_message("what about tariffs?", mentions_bot=True)
        reply = await fake.wait_for_message()
        assert reply.message_reference is not None
        assert reply.message_reference["message_id"] == int(asked["id"])
        assert reply.allowed_mentions == {"parse": []}
        assert not reply.pinged_user_ids
        assert reply.embeds[0]["title"] == "TradeTalk"
        assert "what about tariffs?" in reply.text
        reaction = await fake.wait_for_action(kind=ActionKind.REACTION_ADD)
        assert reaction.emoji == "👀" and reaction.message_id == int(asked["id"])

        # The stored reply can be fetched back through the REST API, as a bot would.
        channel = bot.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        fetched = await channel.fetch_message(reply.message_id)
        assert fetched.embeds[0].title == "TradeTalk"
        assert fetched.reference is not None and fetched.reference.message_id == int(asked["id"])


async def test_message_content_intent_blanks_unmentioned_messages(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id, message_content=False), fake) as bot:
        await fake.send_message("private chatter")
        assert (await _next(bot.inbox)).content == ""
        await fake.send_message("hello bot", mentions_bot=True)
        assert (await _next(bot.inbox)).content.endswith("hello bot")
        await fake.wait_for_message()  # let the bot finish replying before it is closed


async def test_user_reaction_reaches_the_bot(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        await fake.send_message("hi", mentions_bot=True)
        reply = await fake.wait_for_message()
        assert reply.message_id is not None
        await fake.add_reaction(reply.message_id, "👍", user=fake.admin_id)
        event = await _next(bot.reactions)
        assert event.user_id == fake.admin_id and str(event.emoji) == "👍"
        assert event.message_id == reply.message_id


async def test_files_edits_typing_and_deletes_through_the_client(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        channel = bot.get_channel(fake.channels["trade-news"])
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            sent = await channel.send(
                "report", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "r.csv")
            )
        posted = await fake.wait_for_message(channel_id=channel.id)
        assert posted.content == "report" and posted.attachments[0]["filename"] == "r.csv"
        assert await sent.attachments[0].read() == b"a,b\n1,2\n"

        await sent.edit(content="report (v2)")
        assert (await fake.wait_for_action(kind=ActionKind.EDIT)).content == "report (v2)"
        with pytest.raises(discord.HTTPException) as emptied:
            await sent.edit(content="", attachments=[])
        assert emptied.value.code == limits.EMPTY_MESSAGE

        await sent.delete()
        assert (await fake.wait_for_action(kind=ActionKind.DELETE)).message_id == sent.id
        with pytest.raises(discord.NotFound):
            await channel.fetch_message(sent.id)
        assert fake.actions.matching(lambda a: a.kind == ActionKind.TYPING)


# -- interactions -------------------------------------------------------------------------------


async def test_slash_command_defers_then_follows_up(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        handle = await fake.send_interaction("echo", {"text": "hello there"})
        defer = await handle.wait_for(ActionKind.DEFER)
        assert not defer.ephemeral
        followup = await handle.wait_for(ActionKind.FOLLOWUP)
        assert followup.content == "hello there"
        # The first followup after a defer replaces the "thinking..." message.
        assert followup.message_id == defer.message_id
        assert handle.response_type == 5


async def test_late_ack_is_unknown_interaction(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        handle = await fake.send_interaction("echo", {"text": "too late"}, age=4.0)
        rejection = await fake.wait_for_rejection(code=limits.UNKNOWN_INTERACTION)
        assert rejection.status == 404
        assert rejection.path.startswith(f"/interactions/{handle.id}/")
        assert handle.actions == []


async def test_second_ack_is_rejected(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        # A command the bot does not know, so only this test answers it.
        handle = await fake.send_interaction("unregistered")
        url = f"{fake.api_url}/interactions/{handle.id}/{handle.token}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 5}, params={"with_response": "1"}) as r:
                assert r.status == 200
                assert (await r.json())["resource"]["type"] == 5
            async with session.post(url, json={"type": 5}) as r:
                assert r.status == 400
                assert (await r.json())["code"] == limits.ALREADY_ACKNOWLEDGED


async def test_message_over_2000_chars_is_invalid_form_body(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        handle = await fake.send_interaction("toolong")
        reply = await handle.reply()
        assert reply.content == "Refused: 50035" and reply.ephemeral
        [error] = bot.http_errors
        assert error.status == 400 and error.code == limits.INVALID_FORM_BODY
        rejection = await fake.wait_for_rejection(code=limits.INVALID_FORM_BODY)
        assert rejection.body["errors"]["data"]["content"]["_errors"][0]["code"] == (
            "BASE_TYPE_MAX_LENGTH"
        )


async def test_attachment_is_downloadable_and_followup_keeps_ephemeral_defer(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        upload = Upload("article.txt", b"tariffs " * 100, "text/plain")
        handle = await fake.send_interaction("size", attachments={"file": upload})
        reply = await handle.reply()
        assert reply.content == "article.txt: 800 bytes"
        assert reply.ephemeral


async def test_autocomplete_and_button(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        typing = await fake.send_autocomplete("echo", {"text": "tar"}, focused="text")
        suggestions = await typing.wait_for(ActionKind.AUTOCOMPLETE)
        assert [c["value"] for c in suggestions.choices] == ["tar 1", "tar 2"]

        menu_handle = await fake.send_interaction("menu")
        shown = await menu_handle.wait_for(ActionKind.RESPONSE)
        button = shown.components[0]["components"][0]
        assert shown.message_id is not None
        click = await fake.send_component(shown.message_id, button["custom_id"])
        update = await click.wait_for(ActionKind.UPDATE)
        assert update.content == "Confirmed" and update.components == []


async def test_default_member_permissions_hide_command(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        with pytest.raises(PermissionError):
            await fake.send_interaction("reset", user=fake.member_id)
        handle = await fake.send_interaction("reset", user=fake.admin_id)
        assert (await handle.reply()).content == "Reset done"


# -- faults -------------------------------------------------------------------------------------


async def test_429_is_retried_once(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        fake.fail_next("POST /channels/*/messages", status=429, retry_after=0.05)
        await fake.send_message("rate limit me", mentions_bot=True)
        reply = await fake.wait_for_message()
        assert "rate limit me" in reply.text
        assert fake.request_count("POST /channels/{channel_id}/messages") == 2
        assert (await fake.wait_for_rejection(status=429)).body["retry_after"] == 0.05


async def test_server_error_on_followup_is_retried(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        fake.fail_next("POST /webhooks/*", status=502)
        handle = await fake.send_interaction("echo", {"text": "after a 502"})
        assert (await handle.reply(timeout=4.0)).content == "after a 502"
        assert fake.request_count("POST /webhooks/{application_id}/{token}") == 2


@pytest.mark.parametrize("code", [4000, 1000, ABRUPT_CLOSE])
async def test_gateway_drop_resumes_session(fake_discord: FakeDiscord, code: int) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        session_id = fake.gateway.session.session_id if fake.gateway.session else None
        await fake.drop_gateway(code)
        resume = await fake.wait_for_gateway_op(6)
        assert resume["d"]["session_id"] == session_id
        assert fake.gateway.connections[-1]["path"] == "/gateway-resume"
        await fake.send_message("still there?", mentions_bot=True)
        assert "still there?" in (await fake.wait_for_message()).text
        assert len(fake.gateway_ops(2)) == 1  # resumed, never re-identified


async def test_resume_replays_missed_dispatches(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        async with fake.hold_gateway():
            await fake.drop_gateway(4000)
            await fake.send_message("sent while you were away", mentions_bot=True)
        assert "while you were away" in (await fake.wait_for_message()).text
        assert fake.gateway.replayed == 1


async def test_invalidated_session_reidentifies(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake):
        await fake.drop_gateway(4009)
        await fake.wait_for_gateway_op(6)  # the client tries to resume...
        await fake.wait_for_gateway_op(2)  # ...is told the session is gone, and identifies
        await fake.wait_for_gateway_op(2)
        await fake.send_message("fresh session", mentions_bot=True)
        assert "fresh session" in (await fake.wait_for_message()).text


# -- Discord's limits, checked directly --------------------------------------------------------


BUTTON = {"type": 2, "style": 2, "label": "Vote", "custom_id": "vote"}
LINK = {"type": 2, "style": 5, "label": "Open", "url": "https://example.org/a"}


def row(*items: dict) -> dict:
    return {"type": 1, "components": list(items)}


ROW = row(BUTTON)


def _error_code(body: dict) -> tuple[int, dict | None]:
    try:
        limits.check_message(body)
    except DiscordAPIError as exc:
        return exc.code, exc.errors
    return 0, None


def test_limits_accept_a_full_but_legal_message() -> None:
    embed = {
        "title": "t" * 256,
        "description": "d" * 4096,
        "fields": [{"name": "n", "value": "v" * 60} for _ in range(25)],
        "footer": {"text": "f" * 100},
    }
    assert _error_code({"content": "c" * 2000, "embeds": [embed]}) == (0, None)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"content": "c" * 2001}, ["content"]),
        ({"embeds": [{"title": "t" * 257}]}, ["embeds", "0", "title"]),
        ({"embeds": [{"description": "d" * 4097}]}, ["embeds", "0", "description"]),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, ["embeds", "0", "fields"]),
        ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]}, ["embeds", "0", "fields"]),
        ({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}, ["embeds", "0", "fields"]),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, ["embeds", "0", "footer", "text"]),
        ({"embeds": [{"author": {"name": "a" * 257}}]}, ["embeds", "0", "author", "name"]),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, ["embeds"]),
        ({"embeds": [{"title": "t"}] * 11}, ["embeds"]),
        # Components: five rows of five buttons at most, labels of 80, unique custom ids,
        # a link button with a url (at most 512) and no custom id.
        ({"content": "c", "components": [ROW] * 6}, ["components"]),
        ({"content": "c", "components": [{"type": 1, "components": [BUTTON] * 6}]}, ["components"]),
        ({"content": "c", "components": [row({**BUTTON, "label": "l" * 81})]}, ["components"]),
        ({"content": "c", "components": [ROW, ROW]}, ["components", "1"]),
        (
            {"content": "c", "components": [row({**LINK, "url": "https://x/" + "p" * 510})]},
            ["components"],
        ),
        ({"content": "c", "components": [row({**LINK, "custom_id": "x"})]}, ["components"]),
        ({"content": "c", "attachments": [{"id": 0, "description": "d" * 1025}]}, ["attachments"]),
    ],
)
def test_limits_reject_like_discord(body: dict, path: list[str]) -> None:
    code, errors = _error_code(body)
    assert code == limits.INVALID_FORM_BODY
    node = errors
    for key in path:
        assert node is not None
        node = node[key]
    assert node


def test_a_full_but_legal_set_of_buttons_is_accepted() -> None:
    rows = [row(*({**BUTTON, "custom_id": f"b{r}{n}"} for n in range(5))) for r in range(4)]
    rows.append(row(*({**LINK, "label": "l" * 80, "url": "https://x/" + "p" * 502},) * 5))
    assert _error_code({"content": "c", "components": rows}) == (0, None)


def test_command_option_lengths_are_checked_like_discord() -> None:
    def command(**option) -> list[dict]:
        question = {"type": 3, "name": "q", "description": "d", **option}
        return [{"name": "ask", "description": "d", "options": [question]}]

    limits.check_commands(command(min_length=1, max_length=6000))
    for bad in ({"max_length": 6001}, {"max_length": 0}, {"min_length": -1}):
        with pytest.raises(DiscordAPIError) as refused:
            limits.check_commands(command(**bad))
        assert refused.value.code == limits.INVALID_FORM_BODY


def test_empty_message_is_50006() -> None:
    assert _error_code({"content": "   "})[0] == limits.EMPTY_MESSAGE
    assert _error_code({"content": "", "embeds": []})[0] == limits.EMPTY_MESSAGE


# -- rate-limit headers -------------------------------------------------------------------------

RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


async def test_every_rest_reply_carries_rate_limit_headers(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    headers = {"Authorization": f"Bot {fake.token}"}
    async with connected(TinyBot(fake.guild_id), fake), aiohttp.ClientSession() as http:
        for method, path, status in (
            ("GET", "/users/@me", 200),
            ("GET", f"/channels/{fake.channel_id}", 200),
            ("GET", "/channels/1", 404),  # errors carry them too
            ("POST", f"/channels/{fake.channel_id}/messages", 200),
        ):
            body = {"content": "hi"} if method == "POST" else None
            async with http.request(method, fake.api_url + path, json=body, headers=headers) as r:
                assert r.status == status
                assert all(h in r.headers for h in RATE_LIMIT_HEADERS), (path, dict(r.headers))
                assert int(r.headers["X-RateLimit-Remaining"]) < int(r.headers["X-RateLimit-Limit"])
        # Discord's limit for channel messages: 5 per 5 s, per channel.
        assert r.headers["X-RateLimit-Limit"] == "5" and r.headers["X-RateLimit-Remaining"] == "4"


async def test_discord_py_throttles_itself_on_the_headers(fake_discord: FakeDiscord) -> None:
    from fake_discord.ratelimits import RateLimiter, RouteLimit

    fake = fake_discord
    tight = RouteLimit("tight-channel-messages", 2, 1.0)
    fake.rate_limits = RateLimiter(
        limits=((frozenset({"POST"}), "/channels/{channel_id}/messages", tight),)
    )
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        channel = bot.get_channel(fake.channel_id)
        await asyncio.gather(*(channel.send(f"n{n}", allowed_mentions=NO_PINGS) for n in range(5)))
        sent = [a for a in fake.actions if a.kind == ActionKind.MESSAGE]
        assert len(sent) == 5
        # Two per window: the client waited for the reset twice, and never drew a 429.
        assert sent[-1].timestamp - sent[0].timestamp >= 1.8
        assert fake.rate_limits.limited == 0 and not fake.rejections.matching(
            lambda r: r.status == 429
        )
        # A client that ignores the headers is refused as Discord refuses it.
        headers = {"Authorization": f"Bot {fake.token}"}
        url = f"{fake.api_url}/channels/{fake.channel_id}/messages"
        async with aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(3):
                async with http.post(url, json={"content": "x"}, headers=headers) as r:
                    statuses.append(r.status)
                    last_headers, last_body = r.headers, await r.json()
        assert (
            statuses[-1] == 429
            and last_headers["Via"]
            and last_headers["X-RateLimit-Scope"] == "user"
        )
        assert 0 < last_body["retry_after"] <= 1.0


# -- several guilds, direct messages, threads, shards -------------------------------------------


async def test_several_guilds_direct_messages_and_threads(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    second = fake.add_guild("Second Server", prefix="b-")
    async with connected(TinyBot(fake.guild_id, message_content=False), fake) as bot:
        assert {g.id for g in bot.guilds} == {fake.guild_id, second.id}
        await fake.send_message("in B", channel_id=second.channel_id, mentions_bot=True)
        got = await _next(bot.inbox)
        assert got.guild.id == second.id and got.author.id == second.member_id
        assert got.author.guild_permissions.manage_guild is False
        with pytest.raises(ValueError):  # A's member is not in B
            await fake.send_message("x", channel_id=second.channel_id, author=fake.member_id)

        dm = fake.dm_channel(fake.member_id)
        await fake.send_message("a direct message", channel_id=dm)
        got = await _next(bot.inbox)
        assert got.guild is None and isinstance(got.channel, discord.DMChannel)
        assert got.content == "a direct message"  # DMs keep their content without the intent
        await got.channel.send("back", allowed_mentions=NO_PINGS)
        assert (await fake.wait_for_message(channel_id=dm)).content == "back"

        thread_id = await fake.create_thread(fake.channel_id, "a thread")
        await fake.send_message("in a thread", channel_id=thread_id, mentions_bot=True)
        got = await _next(bot.inbox)
        assert isinstance(got.channel, discord.Thread) and got.channel.parent_id == fake.channel_id
        reply = await fake.wait_for_message(channel_id=thread_id)
        assert reply.message_reference["message_id"] == got.id

        await fake.remove_bot(second.id)
        await asyncio.sleep(0.1)
        assert bot.get_guild(second.id) is None
        await fake.add_bot(second.id)
        await asyncio.sleep(0.1)
        assert bot.get_guild(second.id) is not None


class TinyShardedBot(commands.AutoShardedBot):
    def __init__(self, shard_count: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            shard_count=shard_count,
            guild_ready_timeout=0.05,
        )
        self.inbox: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s between shards' IDENTIFYs; pointless against a local fake."""

    async def on_message(self, message: discord.Message) -> None:
        await self.inbox.put(message)


async def test_each_shard_gets_its_own_guilds_events(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    guilds = [fake.add_guild(f"Shard {n}", prefix=f"s{n}-", shard=(n, 2)) for n in (0, 1)]
    async with connected(TinyShardedBot(2), fake) as bot:
        assert sorted(f["d"]["shard"] for f in fake.gateway_ops(2)) == [[0, 2], [1, 2]]
        for guild in guilds:
            assert bot.get_guild(guild.id).shard_id == (guild.id >> 22) % 2
            await fake.send_message("hello", channel_id=guild.channel_id, author=guild.member_id)
            got = await _next(bot.inbox)
            assert got.guild.id == guild.id
        # Each guild's events went over its own shard's connection only.
        for shard, guild in enumerate(guilds):
            frames = fake.gateway.by_shard[shard].history
            seen = {f["d"].get("guild_id") for f in frames if f.get("t") == "MESSAGE_CREATE"}
            assert seen == {str(guild.id)}


# -- threads on messages, direct messages -------------------------------------------------------


async def test_a_thread_started_on_a_message_has_its_id_and_can_be_started_once(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        await fake.send_message("hello", mentions_bot=True)
        reply = await fake.wait_for_message()
        channel = bot.get_channel(fake.channel_id)
        message = await channel.fetch_message(reply.message_id)
        thread = await message.create_thread(name="Follow-ups", auto_archive_duration=60)
        assert thread.id == message.id and thread.owner_id == bot.user.id
        assert (await fake.wait_for_action(kind=ActionKind.THREAD)).content == "Follow-ups"
        stored = fake.state.messages[message.id]
        assert stored["thread"]["id"] == str(message.id) and stored["flags"] & (1 << 5)
        with pytest.raises(discord.HTTPException) as twice:
            await message.create_thread(name="Again")
        assert twice.value.code == limits.THREAD_ALREADY_CREATED
        with pytest.raises(discord.HTTPException) as long_name:
            await (await channel.fetch_message(reply.message_id)).create_thread(name="n" * 101)
        assert long_name.value.code in (limits.INVALID_FORM_BODY, limits.THREAD_ALREADY_CREATED)
        # A message in the thread reaches the bot with the thread as its channel.
        assert (await _next(bot.inbox)).content.endswith("hello")  # the first message
        await fake.send_message("in the thread", channel_id=thread.id)
        seen = await _next(bot.inbox)
        assert seen.channel.id == thread.id and seen.content == "in the thread"


async def test_a_direct_message_to_a_user_who_refuses_them_is_50007(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    async with connected(TinyBot(fake.guild_id), fake) as bot:
        member = await bot.fetch_user(fake.member_id)
        await member.send("hello", allowed_mentions=NO_PINGS)
        sent = await fake.wait_for_message(channel_id=fake.dm_channel(fake.member_id))
        assert sent.content == "hello"
        fake.refuse_dms(fake.admin_id)
        admin = await bot.fetch_user(fake.admin_id)
        with pytest.raises(discord.Forbidden) as refused:
            await admin.send("hello", allowed_mentions=NO_PINGS)
        assert refused.value.code == limits.CANNOT_SEND_TO_USER
