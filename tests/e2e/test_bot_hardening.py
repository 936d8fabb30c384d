"""Faults, hostile input, permissions and secrets, on the real bot over the loopback Discord.

Gateway drops and REST failures: every question asked around them is answered exactly once.
Two admins writing at once: serialised, both told, the index consistent. Non-admins sending
admin commands past Discord's client: refused on our side, logged, audited, nothing changes.
The token stays out of every log, even at DEBUG. Article and question text can't ping or break
the layout. Bad attachments get a clear private reason. ``/audit`` shows the trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from fake_discord import ABRUPT_CLOSE, ActionKind, FakeDiscord, InteractionHandle, Upload, limits

from bot.cli_run import serve
from config.settings import Settings
from tradetalk.engine import Engine
from tradetalk.logs import setup_logging

from .bot_harness import (
    BUNDLED_QUESTION,
    FIXTURE_ARTICLES,
    LoopbackBot,
    article_upload,
    assert_no_pings,
    citation_fields,
    library_of,
    markdown_article,
    running_bot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(90)]

SLOW = 30.0  # embedding or writing an index build, on a loaded CI machine
CAPITAL_WIRE = FIXTURE_ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
NORTHERN_LEDGER = FIXTURE_ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"
BUSY = "a reindex or ingest is"  # IndexBusy, from either ingest or rebuild
ANSWERED = "m-i-l-k"  # in every answer to BUNDLED_QUESTION


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "it") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def upload(path: Path) -> Upload:
    return Upload(path.name, path.read_bytes(), "text/markdown")


class Questions:
    """Questions asked as mentions and with /ask, and the bot's answers to each."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.mentions: list[int] = []
        self.slash: list[InteractionHandle] = []

    async def mention(self, label: str, author: int | None = None) -> None:
        sent = await self.fake.send_message(
            f"{BUNDLED_QUESTION} ({label})", mentions_bot=True, author=author
        )
        self.mentions.append(int(sent["id"]))

    async def ask(self, user: int | None = None) -> None:
        self.slash.append(
            await self.fake.send_interaction("ask", {"question": BUNDLED_QUESTION}, user=user)
        )

    def replies_to(self, message_id: int) -> list:
        return self.fake.actions.matching(
            lambda a: (
                a.kind == ActionKind.MESSAGE
                and (a.message_reference or {}).get("message_id") == message_id
            )
        )

    @staticmethod
    def answers_to(handle: InteractionHandle) -> list:
        return [a for a in handle.actions if a.kind == ActionKind.FOLLOWUP]

    def all_answered(self) -> bool:
        return all(self.replies_to(m) for m in self.mentions) and all(
            self.answers_to(h) for h in self.slash
        )

    async def assert_each_answered_once(self, timeout: float = 20.0) -> None:
        await until(self.all_answered, timeout, "every question to be answered")
        await asyncio.sleep(0.5)  # a duplicate (a replayed event answered again) shows by now
        for message_id in self.mentions:
            [reply] = self.replies_to(message_id)
            assert ANSWERED in reply.text
        for handle in self.slash:
            [answer] = self.answers_to(handle)
            assert ANSWERED in answer.text
            assert [a.kind for a in handle.actions].count(ActionKind.DEFER) == 1
        # Nothing else was posted either (no answer landed in the channel instead).
        posted = self.fake.actions.matching(lambda a: a.kind == ActionKind.MESSAGE)
        assert len(posted) == len(self.mentions)


# -- the gateway goes away ----------------------------------------------------------------------

RESUMABLE_CLOSES = [1000, ABRUPT_CLOSE, 4000, 4001, 4002, 4003, 4005, 4008]
SESSION_ENDING_CLOSES = [4007, 4009]
GATEWAY_FAULTS = [
    *[pytest.param("close", code, True, id=f"close-{code}") for code in RESUMABLE_CLOSES],
    pytest.param("reconnect", None, True, id="op7-reconnect"),
    *[pytest.param("close", code, False, id=f"close-{code}") for code in SESSION_ENDING_CLOSES],
    pytest.param("invalid-session", None, False, id="op9-invalid-session"),
]


@pytest.mark.parametrize(("fault", "code", "resumes"), GATEWAY_FAULTS)
async def test_questions_around_a_gateway_fault_are_answered_once(
    fake_discord: FakeDiscord, start_bot, fault: str, code: int | None, resumes: bool
) -> None:
    fake = fake_discord
    async with start_bot(cooldown_rate=100):
        questions = Questions(fake)
        identified, resumed = len(fake.gateway_ops(2)), len(fake.gateway_ops(6))
        # Asked just before the fault: still being answered, or not yet read, when it hits.
        await questions.mention("before")
        await questions.ask(user=fake.admin_id)
        async with fake.hold_gateway():  # the client's reconnection waits here
            if fault == "close":
                await fake.drop_gateway(code)
            elif fault == "reconnect":
                await fake.request_reconnect()
            else:
                await fake.gateway.send_op(9, False)  # INVALID_SESSION, not resumable
            if resumes:
                # Asked while the bot is away: Discord keeps them for the RESUME to replay.
                await questions.mention("during")
                await questions.ask(user=fake.admin_id)
            await asyncio.sleep(0.2)
        if resumes:
            await until(lambda: len(fake.gateway_ops(6)) > resumed, what="a RESUME")
        else:
            await until(lambda: len(fake.gateway_ops(2)) > identified, what="a new IDENTIFY")
        await questions.mention("after")
        await questions.ask()
        await questions.assert_each_answered_once()
        if resumes:
            assert len(fake.gateway_ops(2)) == identified  # resumed, never re-identified


# -- REST failures ------------------------------------------------------------------------------

REST_FAULTS = [
    pytest.param("POST /channels/*/messages", status, id=f"channel-message-{status}")
    for status in (429, 500, 502, 503)
] + [
    pytest.param(route, status, id=f"{name}-{status}")
    for route, name in (
        ("POST /interactions/*/*/callback", "defer"),
        ("POST /webhooks/*/*", "followup"),
    )
    for status in (429, 500, 502, 503)
]


@pytest.mark.parametrize(("route", "status"), REST_FAULTS)
async def test_rest_failures_are_retried_and_answered_once(
    fake_discord: FakeDiscord, tradetalk, route: str, status: int
) -> None:
    fake = fake_discord
    questions = Questions(fake)
    fake.fail_next(route, status=status, retry_after=0.05)
    if "channels" in route:
        await questions.mention("through a failure")
    else:
        await questions.ask()
    await questions.assert_each_answered_once()
    rejected = await fake.wait_for_rejection(status=status)
    assert fake.request_count(f"{rejected.method} {rejected.path}") == 2  # it, then the retry
    assert not fake.faults.pending()


# -- two admins at once -------------------------------------------------------------------------


class WriteGate:
    """Once armed, the next index build to be published waits until released: the engine is
    mid-write, holding its write lock, for as long as a test needs. Nothing else changes."""

    def __init__(self) -> None:
        self._armed = threading.Event()
        self.blocked = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        self.blocked.clear()
        self.released.clear()
        self._armed.set()

    def around(self, publish: Callable):
        def gated(*args, **kwargs):
            if self._armed.is_set():
                self._armed.clear()
                self.blocked.set()
                self.released.wait(60)
            return publish(*args, **kwargs)

        return gated


@pytest.fixture
def gate() -> Iterator[WriteGate]:
    gate = WriteGate()
    yield gate
    gate.released.set()  # never leave a worker thread waiting


@pytest.fixture
async def gated_bot(
    fake_discord: FakeDiscord, gate: WriteGate, real_encoder, bundled_index: Path, tmp_path: Path
) -> AsyncIterator[LoopbackBot]:
    data = tmp_path / "data"
    shutil.copytree(bundled_index, data, symlinks=True)
    settings = Settings(data_dir=data, guild_ids=[fake_discord.guild_id], cooldown_rate=100)
    engine = Engine(settings, encoder=real_encoder)
    await asyncio.to_thread(engine.open)
    async with running_bot(fake_discord, settings, engine) as bot:
        # The admins' writes go to their server's library: hold those.
        server = await asyncio.to_thread(lambda: library_of(bot, fake_discord.guild_id).engine)
        # Every write ends in one of these: a new build (rebuild) or the next build (ingest,
        # remove).
        server.storage.publish = gate.around(server.storage.publish)
        server.storage.publish_change = gate.around(server.storage.publish_change)
        yield bot


def assert_index_consistent(bot: LoopbackBot, encoder) -> set[str]:
    """The live index of the server's library and one freshly loaded from disk hold the same
    articles, every passage accounted for, and no half-written build is left; the article
    ids."""
    library = library_of(bot, min(g.id for g in bot.guilds))
    live = library.engine
    assert sum(a.passage_count for a in live.articles()) == len(live.index)
    reopened = Engine(library.settings, encoder=encoder, bundled=False)
    reopened.open()
    try:
        assert [a.id for a in reopened.articles()] == [a.id for a in live.articles()]
        assert len(reopened.index) == len(live.index)
        assert not [p for p in reopened.storage.builds.iterdir() if p.name.startswith(".tmp-")]
    finally:
        reopened.close()
    stored = {p.stem for p in library.articles_dir.glob("*.md")}
    assert stored == {a.id for a in live.articles() if not a.bundled}
    return {a.id for a in live.articles()}


async def test_second_admin_is_told_while_an_ingest_runs_then_goes_in_turn(
    fake_discord: FakeDiscord, gated_bot: LoopbackBot, gate: WriteGate, real_encoder
) -> None:
    fake, bot = fake_discord, gated_bot
    second = fake.state.add_user("second-admin", roles=[fake.admin_role_id])
    earlier = await fake.send_interaction(
        "ingest", user=second, attachments={"file": upload(CAPITAL_WIRE)}
    )
    assert (await earlier.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith("Added")
    library = library_of(bot, fake.guild_id)
    capital = next(a.id for a in library.engine.articles() if "Mexico" in a.title)

    gate.arm()
    first = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    assert await asyncio.to_thread(gate.blocked.wait, SLOW), "the first ingest never started"
    # Meanwhile the second admin tries to add, reindex and remove: each is told at once.
    ingest = await fake.send_interaction(
        "ingest", user=second, attachments={"file": upload(NORTHERN_LEDGER)}
    )
    told = await ingest.wait_for(ActionKind.FOLLOWUP)
    assert told.ephemeral and BUSY in told.content
    reindex = await fake.send_interaction("reindex", user=second)
    failed = await reindex.wait_for(
        ActionKind.EDIT_ORIGINAL, predicate=lambda a: "Reindex failed" in a.content
    )
    assert failed.ephemeral and BUSY in failed.content
    remove = await fake.send_interaction("remove", {"article_id": capital}, user=second)
    told = await remove.wait_for(ActionKind.FOLLOWUP)
    assert told.ephemeral and BUSY in told.content
    # Questions are answered meanwhile, from the index as it was.
    questions = Questions(fake)
    await questions.mention("while an ingest runs")
    await questions.assert_each_answered_once()

    gate.released.set()
    done = await first.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert done.ephemeral and done.content.startswith("Added “Beyond milk and cars")
    ids = assert_index_consistent(bot, real_encoder)
    assert capital in ids and not any("northern" in i for i in ids)
    trail = [(e.actor.split(" ")[0], e.action, e.outcome) for e in library.audit.recent()]
    assert trail[:4] == [
        (f"discord:{fake.admin_id}", "ingest", "ok"),
        (f"discord:{second}", "remove", "failed"),
        (f"discord:{second}", "reindex", "failed"),
        (f"discord:{second}", "ingest", "failed"),
    ]

    # In turn, the second admin's ingest goes through.
    retry = await fake.send_interaction(
        "ingest", user=second, attachments={"file": upload(NORTHERN_LEDGER)}
    )
    assert (await retry.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith("Added")
    assert len(assert_index_consistent(bot, real_encoder)) == len(ids) + 1


async def test_ingest_and_remove_during_a_reindex_are_told_and_the_index_stays_whole(
    fake_discord: FakeDiscord, gated_bot: LoopbackBot, gate: WriteGate, real_encoder
) -> None:
    fake, bot = fake_discord, gated_bot
    second = fake.state.add_user("second-admin", roles=[fake.admin_role_id])
    library = library_of(bot, fake.guild_id)
    engine = library.engine
    # Two articles in the server's library (the bundled one is the global library's).
    await asyncio.to_thread(engine.ingest_path, CAPITAL_WIRE)
    await asyncio.to_thread(engine.ingest_path, NORTHERN_LEDGER)
    capital = next(a.id for a in engine.articles() if "Mexico" in a.title)
    before = assert_index_consistent(bot, real_encoder)
    version = engine.index.version

    gate.arm()
    reindex = await fake.send_interaction("reindex", user=fake.admin_id)
    assert await asyncio.to_thread(gate.blocked.wait, SLOW), "the reindex never started"
    again = await fake.send_interaction("reindex", user=second)
    told = await again.reply()
    assert told.ephemeral and "already running" in told.content
    ingest = await fake.send_interaction(
        "ingest", user=second, attachments={"file": article_upload()}
    )
    told = await ingest.wait_for(ActionKind.FOLLOWUP)
    assert told.ephemeral and BUSY in told.content
    remove = await fake.send_interaction("remove", {"article_id": capital}, user=second)
    told = await remove.wait_for(ActionKind.FOLLOWUP)
    assert told.ephemeral and BUSY in told.content

    gate.released.set()
    done = await reindex.wait_for(
        ActionKind.EDIT_ORIGINAL, predicate=lambda a: "finished" in a.content, timeout=SLOW
    )
    assert done.ephemeral and "this server's 2 articles, " in done.content
    assert engine.index.version != version
    assert assert_index_consistent(bot, real_encoder) == before
    trail = [(e.actor.split(" ")[0], e.action, e.outcome) for e in library.audit.recent()]
    assert trail[:3] == [
        (f"discord:{fake.admin_id}", "reindex", "ok"),
        (f"discord:{second}", "remove", "failed"),
        (f"discord:{second}", "ingest", "failed"),
    ]


# -- admin commands from non-admins -------------------------------------------------------------


@contextlib.asynccontextmanager
async def counting_article_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A local page server; yields its base URL and the list of paths requested from it."""
    hits: list[str] = []
    page = (FIXTURE_ARTICLES / "2018-10-01-bay-street-bulletin-usmca-deal.html").read_bytes()

    async def serve_page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=page, content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/usmca.html", serve_page)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        await runner.cleanup()


ADMIN_COMMANDS = ["ingest-file", "ingest-url", "reindex", "remove", "feedback", "audit"]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_every_admin_command_refuses_a_non_admin_and_changes_nothing(
    fake_discord: FakeDiscord, start_bot, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    # Private URLs allowed: were the check skipped, the download would succeed.
    async with counting_article_server() as (base, hits), start_bot(allow_private_urls=True) as bot:
        library = library_of(bot, fake.guild_id)
        engine = library.engine
        added = (await asyncio.to_thread(engine.ingest_path, CAPITAL_WIRE)).article
        snapshot = (
            engine.index.version,
            engine.articles(),
            sorted(p.name for p in library.articles_dir.iterdir()),
        )
        name, options, files = {
            "ingest-file": ("ingest", {}, {"file": article_upload()}),
            "ingest-url": ("ingest", {"url": f"{base}/usmca.html"}, None),
            "reindex": ("reindex", {}, None),
            "remove": ("remove", {"article_id": added.id}, None),
            "feedback": ("feedback", {}, None),
            "audit": ("audit", {}, None),
        }[command]
        with pytest.raises(PermissionError):  # Discord itself would not show it...
            await fake.send_interaction(name, options, attachments=files)
        # ...but a modified client can send it anyway.
        handle = await fake.send_interaction(
            name, options, attachments=files, bypass_permissions=True
        )
        reply = await handle.reply()
        assert reply.kind == ActionKind.RESPONSE and reply.ephemeral
        assert reply.content == "Only server admins (Manage Server) can use this command."
        await asyncio.sleep(0.3)  # anything the command would have gone on to do
        assert [a.kind for a in handle.actions] == [ActionKind.RESPONSE]
        assert (
            engine.index.version,
            engine.articles(),
            sorted(p.name for p in library.articles_dir.iterdir()),
        ) == snapshot
        assert hits == [] and fake.request_count("GET /attachments/*") == 0  # nothing fetched
        [refusal] = [r for r in caplog.records if "not an admin" in r.getMessage()]
        assert refusal.getMessage() == (
            f"refused /{name} for user {fake.member_id} in server {fake.guild_id}: not an admin"
        )
        [entry] = library.audit.recent()
        assert (entry.action, entry.target, entry.outcome) == (name, "-", "refused")
        assert entry.actor == f"discord:{fake.member_id} (member)"


# -- the token stays secret ---------------------------------------------------------------------

# Shaped like a real token (user id . timestamp . HMAC), so any logging of it is recognisable.
SECRET_TOKEN = "MTQ5ODc2NTQzMjEwOTg3NjU0.GhTq7w.SECRET-aZ3kP9qL2mN8vR5tX1yB4cD7eF0gH6jK"


@pytest.fixture
def debug_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """The CLI's logging set-up at DEBUG (file + console), undone afterwards. After capsys, so
    the console handler writes where the test can read it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    path = setup_logging(tmp_path / "data", "DEBUG", console_level="DEBUG")
    yield path
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


async def test_token_never_reaches_logs_or_messages_even_at_debug(
    debug_log: Path,
    tmp_path: Path,
    bundled_index: Path,
    real_encoder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    shutil.copytree(bundled_index, data, symlinks=True, dirs_exist_ok=True)
    started: list[LoopbackBot] = []

    class Recorded(LoopbackBot):
        async def setup_hook(self) -> None:
            started.append(self)
            await super().setup_hook()

    async with FakeDiscord(token=SECRET_TOKEN) as fake:
        settings = Settings(data_dir=data, discord_token=SECRET_TOKEN, guild_ids=[fake.guild_id])
        engine = Engine(settings, encoder=real_encoder)
        running = asyncio.create_task(
            serve(settings, engine=engine, bot_class=Recorded, guild_ready_timeout=0.05)
        )
        await until(lambda: bool(started) and started[0].is_ready(), 20, "the bot to be ready")
        bot = started[0]
        handle = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        assert ANSWERED in (await handle.wait_for(ActionKind.FOLLOWUP)).text
        await fake.drop_gateway(4000)  # RESUME sends the token again
        await fake.wait_for_gateway_op(6)
        # Whatever a library might log with the token in it comes out redacted...
        logging.getLogger("aiohttp.client").debug("Authorization: Bot %s", SECRET_TOKEN)
        # ...and an unexpected failure logs its traceback, not the token.
        for segment in engine.index.segments:  # the passage stores become unreadable
            segment.records.close()
        failing = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        notice = await failing.wait_for(ActionKind.FOLLOWUP)
        assert notice.content.startswith("Something went wrong (error ")
        interaction_tokens = [i.token for i in fake.interactions.values()]
        await bot.close()
        await asyncio.wait_for(running, 10)
        # The feedback store's worker thread logs once more after closing: let it, while the
        # DEBUG handlers are still open.
        await until(
            lambda: not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name],
            5,
            "aiosqlite",
        )
        assert not fake.rejections.matching(lambda r: r.status == 401)

    written = debug_log.read_text(encoding="utf-8")
    assert "WebSocket Event" in written and "INTERACTION_CREATE" in written  # really at DEBUG
    assert "Traceback" in written and "[redacted]" in written
    captured = capsys.readouterr()
    assert "DEBUG: " in captured.err  # the console handler was read too
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for text in (written, captured.out, captured.err, logged):
        assert SECRET_TOKEN not in text
        # Interaction tokens let anyone post as the bot for 15 minutes: not in logs either.
        assert not [t for t in interaction_tokens if t in text]


# -- hostile text -------------------------------------------------------------------------------


def unescaped(text: str) -> str:
    """``text`` without its escaped characters: what Discord could still read as markup."""
    return re.sub(r"\\.", "", text, flags=re.S)


async def test_hostile_article_and_question_ping_nobody_and_keep_the_layout(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    member, role, channel = fake.member_id, fake.admin_role_id, fake.channel_id
    body = (
        f"Union leaders told @everyone and @here at the Hamilton mill, <@{member}> and "
        f"<@&{role}> included, that the aluminium tariff would cost the plant 400 jobs by spring, "
        "as [the memo](https://evil.example/memo) and [the annex](https://evil.example/annex) "
        "show ``` in detail.\n\n"
        f"The company said in <#{channel}> that it was ||reviewing|| its options for the "
        "smelter and its **suppliers** in the region.\n\n"
        "# Smelter output fell by half over the summer, the plant manager said."
    )
    data = markdown_article(
        "Mill warns @everyone of [tariff](https://evil.example/t) cuts", "Harbour ||Herald||", body
    )
    added = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": Upload("mill.md", data, "text/markdown")}
    )
    assert (await added.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).content.startswith("Added")

    question = (
        f"@everyone <@&{role}> How many jobs would the aluminium tariff cost? ``` "
        "[click](https://evil.example/q) ||x||"
    )
    await fake.send_message(question, mentions_bot=True)
    mentioned = await fake.wait_for_message()
    slash = await fake.send_interaction("ask", {"question": question})
    followup = await slash.wait_for(ActionKind.FOLLOWUP)
    for reply in (mentioned, followup):
        assert_no_pings(reply)
        assert fake.state.messages[reply.message_id]["mention_everyone"] is False
        assert "400 jobs" in reply.text
        limits.check_message({"embeds": reply.embeds})
        [embed] = reply.embeds
        shown = unescaped(embed["title"] + embed["description"])
        for field in embed.get("fields") or []:
            # The title inside the one link the bot makes: its words, without the link.
            title = re.fullmatch(
                r"\[((?:\\.|[^\]\\])*)\]\(https?://[^\s()]+\)(?: · .*)?", field["value"]
            )
            shown += unescaped(field["name"] + (title[1] if title else field["value"]))
        assert not re.search(
            r"<(?:@[!&]?|#)\d+>|@everyone|@here",
            "".join([embed["title"], embed["description"], str(embed.get("fields"))]),
        )
        assert "`" not in shown and "||" not in shown and "**" not in shown
        assert not re.search(r"\[[^\]]*\]\([^)]*\)", shown)  # no masked link renders
        # The citations are still separate fields, numbered, each one line under its source.
        fields = citation_fields(reply)
        assert fields and all(f["name"].startswith(f"[{n}] ") for n, f in enumerate(fields, 1))
        assert all("\n" not in f["value"] for f in fields)
        numbers = re.findall(r"\[(\d+)\]", embed["description"])
        assert numbers and set(numbers) <= {str(n) for n in range(1, len(fields) + 1)}


# -- attachments --------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
TEXT = CAPITAL_WIRE.read_bytes()
BAD_ATTACHMENTS = [
    pytest.param(
        Upload("scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        "unsupported file type",
        False,
        id="wrong-extension",
    ),
    pytest.param(
        Upload("notes.md", TEXT + b"x" * 2000, "text/markdown"),
        "is over the 1,000-byte limit",
        False,
        id="over-the-size-cap",
    ),
    pytest.param(
        Upload("notes.txt", b"Trade talks \xff\xfe\xfd resumed " * 20, "text/plain"),
        "is not UTF-8 text",
        True,
        id="invalid-utf8",
    ),
    pytest.param(
        Upload("photo.md", PNG + b"\x00" * 200, "text/markdown"),
        "looks like a binary file",
        True,
        id="png-named-md",
    ),
    pytest.param(Upload("empty.txt", b"   \n\n", "text/plain"), "file is empty", True, id="empty"),
    pytest.param(
        Upload("page.html", b"<html><body>" + b"<div>" * 100 + b"</body></html>", "text/html"),
        "no article text",
        True,
        id="html-without-text",
    ),
]


@pytest.mark.parametrize(("attachment", "reason", "downloaded"), BAD_ATTACHMENTS)
async def test_bad_attachments_get_a_clear_private_reason_and_change_nothing(
    fake_discord: FakeDiscord, start_bot, attachment: Upload, reason: str, downloaded: bool
) -> None:
    fake = fake_discord
    async with start_bot(max_article_bytes=1_000) as bot:
        library = library_of(bot, fake.guild_id)
        engine = library.engine
        snapshot = (engine.index.version, engine.articles())
        handle = await fake.send_interaction(
            "ingest", user=fake.admin_id, attachments={"file": attachment}
        )
        reply = await handle.wait_for(ActionKind.FOLLOWUP)
        assert reply.ephemeral and reply.content.startswith(f"{attachment.filename}: ")
        assert reason in reply.content and "\n" not in reply.content
        assert "Traceback" not in reply.content and "error " not in reply.content
        assert (engine.index.version, engine.articles()) == snapshot
        assert not library.articles_dir.exists() or not list(library.articles_dir.iterdir())
        # Type and size are checked before anything is downloaded.
        assert fake.request_count("GET /attachments/*") == int(downloaded)
        [entry] = library.audit.recent()
        assert (entry.action, entry.target, entry.outcome) == (
            "ingest",
            attachment.filename,
            "failed",
        )
        assert reason in entry.detail


async def test_attachment_whose_content_type_is_not_text_is_refused(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    disguised = Upload("notes.md", TEXT, "image/png")  # a text body, but not sent as text
    handle = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": disguised}
    )
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral and "image/png" in reply.content
    assert fake.request_count("GET /attachments/*") == 0


# -- /audit -------------------------------------------------------------------------------------


async def test_audit_shows_who_did_what_and_when_to_admins_only(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    empty = await fake.send_interaction("audit", user=fake.admin_id)
    assert "No admin actions recorded yet." in (await empty.wait_for(ActionKind.FOLLOWUP)).text

    added = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    await added.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    hostile = Upload("@everyone **<@&1> ```.pdf", b"%PDF", "application/pdf")
    refused = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": hostile}
    )
    await refused.wait_for(ActionKind.FOLLOWUP)
    member = await fake.send_interaction("reindex", bypass_permissions=True)
    await member.reply()

    handle = await fake.send_interaction("audit", user=fake.admin_id)
    assert (await handle.wait_for(ActionKind.DEFER)).ephemeral
    reply = await handle.wait_for(ActionKind.FOLLOWUP)
    assert reply.ephemeral
    assert_no_pings(reply)
    limits.check_message({"embeds": reply.embeds})
    [embed] = reply.embeds
    assert embed["title"] == "Audit log"
    lines = [re.sub(r"\\(.)", r"\1", line) for line in embed["description"].splitlines()]
    assert len(lines) == 3  # newest first
    # Who: a mention (Discord shows the name; it pings nobody). When: each reader's time zone.
    assert f"reindex · - · refused · by <@{fake.member_id}>" in lines[0]
    assert "not an admin" in lines[0]
    assert "ingest" in lines[1] and "failed" in lines[1] and "unsupported file type" in lines[1]
    assert "@everyone" not in lines[1]  # the file name, escaped
    assert "```" not in embed["description"]
    assert re.match(r"<t:\d{10}:R> ingest · 2018-10-02-beyond-milk", lines[2])
    assert f"ok · by <@{fake.admin_id}>" in lines[2]

    # A member can't read it, even past Discord's client.
    peek = await fake.send_interaction("audit", bypass_permissions=True)
    assert "Only server admins" in (await peek.reply()).content
    assert not [a for a in peek.actions if a.embeds]


# -- killed mid-write (SIGKILL), through Discord ------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
BOT_PROCESS = """
import asyncio, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
import discord, yarl
from conftest import HashingEncoder
from config.settings import Settings
from tradetalk.engine import Engine
from bot.cli_run import serve
from e2e.bot_harness import LoopbackBot

api, gateway, data, token, guild = sys.argv[1:6]
discord.http.Route.BASE = api
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

class SlowEncoder(HashingEncoder):
    def encode(self, texts, *, batch_size=64):
        if len(texts) > 1:  # passages, not a question: plenty of time to be killed
            print("embedding", flush=True)
            time.sleep(0.5)
        return super().encode(texts, batch_size=batch_size)

settings = Settings(data_dir=data, discord_token=token, guild_ids=[int(guild)])
asyncio.run(serve(settings, engine=Engine(settings, encoder=SlowEncoder()),
                  bot_class=LoopbackBot, guild_ready_timeout=0.05))
"""


@pytest.mark.parametrize("command", ["global reindex", "ingest"])
async def test_bot_killed_mid_write_restarts_on_the_last_complete_index(
    fake_discord: FakeDiscord, tmp_path: Path, command: str
) -> None:
    """The bot runs in a real process, is sent /global reindex (the global library holds the
    articles; a server with none of its own has nothing to reindex) or /ingest over Discord,
    and is killed with SIGKILL while embedding. Restarted, it serves the previous complete build with every
    article it had; the half-made build is gone."""
    from conftest import HashingEncoder

    fake = fake_discord
    data = tmp_path / "data"
    before = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    before.open()
    before.ingest_path(NORTHERN_LEDGER)
    build, titles = before.index.directory, {a.title for a in before.articles()}
    before.close()

    script = BOT_PROCESS.format(root=str(ROOT), tests=str(ROOT / "tests"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        fake.api_url,
        fake.gateway_url,
        str(data),
        fake.token,
        str(fake.guild_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await until(
            lambda: fake.state.commands.find(command.split()[0], fake.guild_id) is not None,
            30,
            "the bot process to sync its commands",
        )
        await asyncio.sleep(0.2)  # READY handled: the interaction has a client to go to
        if command == "global reindex":  # by the bot's owner
            handle = await fake.send_interaction("global reindex", user=fake.owner_id)
        else:
            handle = await fake.send_interaction(
                "ingest", user=fake.admin_id, attachments={"file": upload(CAPITAL_WIRE)}
            )
        await handle.wait_for(ActionKind.DEFER, timeout=10)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.strip() == b"embedding"
        process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    settings = Settings(data_dir=data, guild_ids=[fake.guild_id])
    engine = Engine(settings, encoder=HashingEncoder())
    await asyncio.to_thread(engine.open)
    now = {a.title for a in engine.articles()}
    assert titles <= now  # nothing that was there is lost
    if command == "global reindex":
        assert engine.index.directory == build and now == titles
    else:  # the new article was discarded, or (its file being complete) indexed on restart
        extra = now - titles
        assert not extra or (len(extra) == 1 and "Mexico" in extra.pop())
    assert sum(a.passage_count for a in engine.articles()) == len(engine.index)
    assert not [p for p in engine.storage.builds.iterdir() if p.name.startswith(".tmp-")]
    async with running_bot(fake, settings, engine):
        await fake.send_message("What did Freeland say about the week of talks?", mentions_bot=True)
        reply = await fake.wait_for_message(timeout=10)
        assert reply.embeds and "Northern Ledger" in reply.text
    engine.close()


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """``run_bot`` sets up logging as the CLI does; undo it for the next tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_rejected_or_crashing_start_keeps_the_token_out_of_a_debug_log(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    restore_root_logging: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import cli_run

    from .test_bot_startup import fake_in_thread

    data = tmp_path / "data"
    settings = Settings(data_dir=data, discord_token=SECRET_TOKEN, log_level="DEBUG")
    with fake_in_thread():  # expects another token: Discord says 401
        assert cli_run.run_bot(settings) == 2

    async def crashes(settings: Settings) -> None:
        # Whatever fails unexpectedly, even with the token in its message...
        raise RuntimeError(f"gateway refused Authorization: Bot {SECRET_TOKEN}")

    monkeypatch.setattr(cli_run, "serve", crashes)
    assert cli_run.run_bot(settings) == 1
    captured = capsys.readouterr()
    written = (data / "logs" / "tradetalk.log").read_text(encoding="utf-8")
    assert "DEBUG" in written and "Traceback" in written  # ...its traceback is logged,
    assert "Bot [redacted]" in written  # ...without the token
    assert [line for line in captured.err.splitlines() if line.startswith("error: ")] == [
        f"error: {cli_run.REJECTED_TOKEN}",
        f"error: the bot stopped unexpectedly; details are in {data / 'logs' / 'tradetalk.log'}",
    ]
    for text in (
        written,
        captured.out,
        captured.err,
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        cli_run.REJECTED_TOKEN,
    ):
        assert SECRET_TOKEN not in text


@pytest.mark.parametrize("fault", ["articles-dir-unwritable", "disk-full"])
async def test_a_data_dir_that_cannot_be_written_is_a_clear_private_error(
    fake_discord: FakeDiscord, tradetalk, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, library = fake_discord, library_of(tradetalk, fake_discord.guild_id)
    engine, articles = library.engine, library.articles_dir
    if fault == "articles-dir-unwritable":
        # A file where the folder should be stands in for a read-only disk (root ignores chmod).
        shutil.rmtree(articles, ignore_errors=True)
        articles.write_text("not a directory")
        expected = "could not save the article in the data directory: "
    else:
        import retrieval.index as index_module

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(index_module.np, "save", disk_full)
        expected = "could not write the index: no space left on the data disk"
    snapshot = (engine.index.version, engine.articles())
    handle = await fake.send_interaction(
        "ingest", user=fake.admin_id, attachments={"file": article_upload()}
    )
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.ephemeral and reply.content.startswith(expected) and "\n" not in reply.content
    assert (engine.index.version, engine.articles()) == snapshot
    assert not articles.is_dir() or not list(articles.iterdir())  # nothing half-written
    assert not [p for p in engine.storage.builds.iterdir() if p.name.startswith(".tmp-")]
    [entry] = library.audit.recent()
    assert (entry.action, entry.outcome) == ("ingest", "failed") and expected in entry.detail
