"""``run_bot``: a missing or rejected token, or a missing intent, is one clear line, not a trace.

The fake Discord runs in a thread of its own here, because ``run_bot`` starts its own event loop
exactly as ``tradetalk run`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from fake_discord import FakeDiscord

import bot.client as bot_client
from bot.cli_run import MISSING_INTENT, MISSING_TOKEN, REJECTED_TOKEN, run_bot, serve
from config.settings import Settings
from tradetalk.engine import Engine
from tradetalk.errors import ConfigError

from .bot_harness import LoopbackBot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@contextlib.contextmanager
def fake_in_thread(**options) -> Iterator[FakeDiscord]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-discord", daemon=True)
    thread.start()
    fake = FakeDiscord(**options)
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(5)
    fake.patch_discord()
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``run_bot`` sets up logging the way the CLI does; undo it for the next tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _one_error_line(captured: str) -> str:
    lines = [line for line in captured.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured
    return lines[0]


def test_missing_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_bot(Settings(data_dir=tmp_path / "data"))
    assert code == 2
    assert _one_error_line(capsys.readouterr().err) == f"error: {MISSING_TOKEN}"
    assert run_bot(Settings(data_dir=tmp_path / "data", discord_token="  ")) == 2


def test_rejected_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    secret = "not-the-right-token.abc123"
    with fake_in_thread() as fake:
        code = run_bot(Settings(data_dir=tmp_path / "data", discord_token=secret))
        assert [r.path for r in fake.rejections] == ["/users/@me"]
    assert code == 2
    captured = capsys.readouterr()
    assert _one_error_line(captured.err) == f"error: {REJECTED_TOKEN}"
    log_text = (tmp_path / "data" / "logs" / "tradetalk.log").read_text()
    assert secret not in captured.err + captured.out + log_text


def test_missing_message_content_intent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None, bundled_index: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(bundled_index, data, symlinks=True)
    with fake_in_thread(privileged_intents=discord.Intents.none()) as fake:
        settings = Settings(data_dir=data, discord_token=fake.token, guild_ids=[fake.guild_id])
        code = run_bot(settings)
        identify = fake.gateway_ops(2)
        assert identify and identify[0]["d"]["token"] == "<redacted>"
    assert code == 2
    assert _one_error_line(capsys.readouterr().err) == f"error: {MISSING_INTENT}"


async def test_token_refused_at_the_gateway(
    fake_discord: FakeDiscord, tmp_path: Path, real_encoder
) -> None:
    fake = fake_discord
    fake.reject_next_identify(4004)
    (tmp_path / "no-articles").mkdir()
    settings = Settings(
        data_dir=tmp_path / "data", discord_token=fake.token, bundled_dir=tmp_path / "no-articles"
    )  # nothing to embed
    engine = Engine(settings, encoder=real_encoder)
    with pytest.raises(ConfigError) as refused:
        await serve(settings, engine=engine, bot_class=LoopbackBot)
    assert str(refused.value) == REJECTED_TOKEN


def test_a_cog_that_fails_to_load_stops_the_start_before_any_command_sync(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    bundled_index: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Logged and dropped, the cog's commands would vanish from Discord at the next sync:
    the bot refuses to start instead, with one line and a non-zero exit."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "broken_cog.py").write_text(
        "async def setup(bot):\n    raise RuntimeError('the cog is broken')\n"
    )
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.setattr(bot_client, "EXTENSIONS", (*bot_client.EXTENSIONS, "broken_cog"))
    data = tmp_path / "data"
    shutil.copytree(bundled_index, data, symlinks=True)
    with fake_in_thread() as fake:
        settings = Settings(data_dir=data, discord_token=fake.token, guild_ids=[fake.guild_id])
        code = run_bot(settings)
        synced = [r for r in fake.requests if r.template.endswith("/commands")]
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "broken_cog" in line and "the cog is broken" in line
    assert not synced  # Discord's commands were left as they were
    log_text = (data / "logs" / "tradetalk.log").read_text()
    assert "Traceback" in log_text and "the cog is broken" in log_text
