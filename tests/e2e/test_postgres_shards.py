"""Two bot processes as two shards of one application, each with its own cache directory (two
hosts), against one fake Discord and one real PostgreSQL database: the real bot
(`bot.cli_run.serve`, as ``tradetalk run`` starts it) in separate processes, the real model."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from fake_discord import ActionKind, FakeDiscord

from .bot_harness import BUNDLED_QUESTION, PRAIRIE_QUESTION, article_upload

# Two bots start with the real model, one after the other: generous on a loaded machine.
pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SLOW = 60.0

BOT_PROCESS = """
import asyncio, sys
sys.path[:0] = [{root!r}, {tests!r}]
import discord, yarl
from config.settings import load_settings
from bot.cli_run import serve
from e2e.bot_harness import LoopbackBot

discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
asyncio.run(serve(load_settings(), bot_class=LoopbackBot, guild_ready_timeout=0.05))
"""


@contextlib.asynccontextmanager
async def host(
    fake: FakeDiscord,
    data: Path,
    shard: int,
    database_url: str,
    model_cache: Path,
    guilds: list[int],
    owner: int,
    crash_at: str | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """One host: the bot in its own process, running `shard` of two, its cache in `data`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env.update(
        TRADETALK_DATA_DIR=str(data),
        TRADETALK_DATABASE_URL=database_url,
        TRADETALK_MODEL_CACHE_DIR=str(model_cache),
        TRADETALK_DISCORD_TOKEN=fake.token,
        TRADETALK_GUILD_IDS=",".join(map(str, guilds)),
        TRADETALK_SHARD_COUNT="2",
        TRADETALK_SHARD_IDS=str(shard),
        TRADETALK_OWNER_IDS=str(owner),
        TRADETALK_COOLDOWN_RATE="1000",
        TRADETALK_FEED_CHECK_SECONDS="3600",
        HF_HUB_OFFLINE="1",
    )
    if crash_at:
        env["TRADETALK_TEST_CRASH_AT"] = crash_at
    script = BOT_PROCESS.format(root=str(ROOT), tests=str(ROOT / "tests"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, fake.api_url, fake.gateway_url,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(data.parent),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while (
            shard not in fake.gateway.by_shard or fake.state.commands.find("ask", guilds[0]) is None
        ):
            if process.returncode is not None:
                err = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"host {shard} died: {err.decode()[-3000:]}")
            assert time.monotonic() < deadline, f"host {shard} never came up"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # READY and the guilds handled
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def ask(fake: FakeDiscord, question: str, guild) -> str:
    handle = await fake.send_interaction(
        "ask", {"question": question}, user=guild.member_id, channel_id=guild.channel_id
    )
    # The answer follows the defer; a refusal may come as the first response instead (the
    # database was unreachable before the bot deferred: the channel check reads settings).
    reply = await handle.reply(timeout=SLOW)
    return reply.text


async def global_ingest(fake: FakeDiscord, guild, user: int):
    return await fake.send_interaction(
        "global ingest", user=user, channel_id=guild.channel_id,
        attachments={"file": article_upload()},
    )  # fmt: skip


def global_articles(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM lib_global.articles").fetchone()[0]


@pytest.fixture
def two_guilds(fake_discord: FakeDiscord):
    a = fake_discord.add_guild("Alpha", prefix="a-", shard=(0, 2))
    b = fake_discord.add_guild("Beta", prefix="b-", shard=(1, 2))
    return fake_discord, a, b


async def test_an_ingest_on_host_a_is_answered_by_host_b(
    two_guilds, tmp_path: Path, database_url: str, model_cache: Path
):
    fake, a, b = two_guilds
    common = dict(database_url=database_url, model_cache=model_cache, guilds=[a.id, b.id])
    async with (
        host(fake, tmp_path / "host-a", 0, owner=a.admin_id, **common),
        host(fake, tmp_path / "host-b", 1, owner=a.admin_id, **common),
    ):
        assert "10 years" not in await ask(fake, PRAIRIE_QUESTION, b)
        # The owner adds an article to the global library in Alpha: host A's shard handles it.
        handle = await global_ingest(fake, a, a.admin_id)
        added = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        assert added.content.startswith("Added"), added.content
        done = time.monotonic()
        # Host B, in Beta, answers from it at once (its next question's generation check).
        answer = await ask(fake, PRAIRIE_QUESTION, b)
        assert "10 years" in answer
        assert time.monotonic() - done < 10
    # B was asked in Beta only, which has no library of its own: it fetched the global one.
    assert sorted(p.name for p in (tmp_path / "host-b" / "cache").iterdir()) == ["global"]


async def test_host_a_killed_mid_ingest_host_b_answers_throughout(
    two_guilds, tmp_path: Path, database_url: str, model_cache: Path
):
    fake, a, b = two_guilds
    common = dict(database_url=database_url, model_cache=model_cache, guilds=[a.id, b.id])
    # B first: it builds the global library; A, started on it, dies at its first commit.
    async with (
        host(fake, tmp_path / "host-b", 1, owner=a.admin_id, **common),
        host(
            fake, tmp_path / "host-a", 0, owner=a.admin_id, crash_at="database-commit", **common
        ) as host_a,
    ):
        before = global_articles(database_url)
        await global_ingest(fake, a, a.admin_id)  # host A dies inside its commit (SIGKILL)
        answers = []
        deadline = time.monotonic() + 60
        while host_a.returncode is None:
            answers.append(await ask(fake, BUNDLED_QUESTION, b))  # B answers meanwhile
            assert time.monotonic() < deadline, "host A was never killed"
            await asyncio.sleep(0.1)
        assert host_a.returncode == -signal.SIGKILL
        for _ in range(3):
            answers.append(await ask(fake, BUNDLED_QUESTION, b))
        assert answers and all("kudlow" in text.lower() for text in answers), answers
        # All or nothing: killed before its commit, nothing of the article is anywhere.
        assert global_articles(database_url) == before
        assert "10 years" not in await ask(fake, PRAIRIE_QUESTION, b)


async def test_the_database_restarted_while_both_hosts_answer(
    two_guilds, tmp_path: Path, postgres_server, database_url: str, model_cache: Path
):
    fake, a, b = two_guilds
    common = dict(database_url=database_url, model_cache=model_cache, guilds=[a.id, b.id])
    async with (
        host(fake, tmp_path / "host-a", 0, owner=a.admin_id, **common),
        host(fake, tmp_path / "host-b", 1, owner=a.admin_id, **common),
    ):
        for guild in (a, b):
            assert "kudlow" in (await ask(fake, BUNDLED_QUESTION, guild)).lower()
        await asyncio.to_thread(postgres_server.stop)
        try:
            for guild in (a, b):
                refused = await ask(fake, BUNDLED_QUESTION, guild)
                assert "temporarily unavailable" in refused and "error" not in refused.lower()
        finally:
            await asyncio.to_thread(postgres_server.start)
        for guild in (a, b):  # both recover by themselves, without a restart
            deadline = time.monotonic() + 30
            while "kudlow" not in (text := await ask(fake, BUNDLED_QUESTION, guild)).lower():
                assert "temporarily unavailable" in text, text
                assert time.monotonic() < deadline, "never recovered"
                await asyncio.sleep(0.5)
