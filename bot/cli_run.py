"""``tradetalk run``: start the bot, or say in one line why it can't start.

The lead wires the CLI command to `run_bot`. Token problems and the missing message-content
intent are configuration mistakes, not crashes: they get one line on stderr and exit code 2.
The token is never logged or printed.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import aiohttp
import discord

from bot.client import TradeTalkBot
from bot.feedback_stores import FeedbackStores
from bot.redaction import redacted_logs
from config.settings import Settings
from corpus.fetch import ArticleFetcher
from tenancy import Libraries
from tenancy.layout import LibraryPaths, server_paths
from tradetalk.engine import Engine
from tradetalk.errors import ConfigError, TradeTalkError
from tradetalk.logs import log_file, setup_logging

log = logging.getLogger(__name__)

MISSING_TOKEN = (
    "TRADETALK_DISCORD_TOKEN is not set; put the bot token from the Discord developer portal "
    "in the environment or in .env"
)
REJECTED_TOKEN = (
    "Discord rejected the bot token (TRADETALK_DISCORD_TOKEN); copy a fresh one from the "
    "developer portal (Bot → Reset Token)"
)
MISSING_INTENT = (
    "the Message Content intent is not enabled for this bot; turn it on in the Discord "
    "developer portal (Bot → Privileged Gateway Intents) and start again"
)


def bot_token(settings: Settings) -> str:
    """The token, or `ConfigError` when it is missing or blank."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise ConfigError(MISSING_TOKEN)
    return token


async def serve(
    settings: Settings,
    *,
    engine: Engine | None = None,
    bot_class: type[TradeTalkBot] = TradeTalkBot,
    **bot_options: object,
) -> None:
    """Run the bot until it is closed. Raises `ConfigError` (one line) for a missing or rejected
    token or a missing intent, other `TradeTalkError`s for an unusable index or model."""
    token = bot_token(settings)
    # Questions from many members at once share model calls (micro-batches).
    libraries = Libraries(settings, engine=engine, batch_queries=True)
    fetcher = ArticleFetcher(
        allow_private=settings.allow_private_urls,
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_article_bytes,
    )
    # The token, and interaction tokens discord.py logs at DEBUG, never reach a log handler.
    with redacted_logs(token):
        async with (
            feedback_stores(settings) as feedback,
            fetcher,
            bot_class(
                settings, libraries, feedback=feedback, fetcher=fetcher, **bot_options
            ) as bot,
        ):
            try:
                await bot.login(token)  # checks the token before the slow index load
            except discord.LoginFailure:
                raise ConfigError(REJECTED_TOKEN) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise TradeTalkError(f"cannot reach Discord ({type(exc).__name__})") from exc
            logging.getLogger("tradetalk.status").info(
                "Token accepted; loading the articles and the index…"
            )
            await asyncio.to_thread(libraries.open)  # servers' libraries load when first asked
            try:
                await bot.connect()
            except discord.PrivilegedIntentsRequired:
                raise ConfigError(MISSING_INTENT) from None
            except discord.ConnectionClosed as exc:
                if exc.code == 4004:  # authentication failed at the gateway
                    raise ConfigError(REJECTED_TOKEN) from None
                raise


def feedback_stores(settings: Settings) -> FeedbackStores:
    """Each server's votes in its own directory; direct messages' in the global library's."""

    def path_of(server_id: int | None):
        paths = (
            LibraryPaths(settings.data_dir)
            if server_id is None
            else server_paths(settings.data_dir, server_id)
        )
        return paths.feedback

    return FeedbackStores(path_of)


class _Stdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is logged (not the one it was made
    with), so a redirected or replaced stdout never gets a write to a closed stream."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def show_status() -> None:
    """The few lines a good start prints (connected, where data and logs are, where the
    commands are, the invite link): the terminal shows only warnings otherwise."""
    status = logging.getLogger("tradetalk.status")
    if not any(isinstance(h, _Stdout) for h in status.handlers):
        handler = _Stdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.setLevel(logging.INFO)
        status.addHandler(handler)
    status.setLevel(logging.INFO)


def run_bot(settings: Settings) -> int:
    """Start the bot with ``settings``; the process exit code."""
    try:
        bot_token(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    setup_logging(settings.data_dir, settings.log_level)
    show_status()
    with redacted_logs(bot_token(settings)):  # also over the tracebacks logged below
        try:
            asyncio.run(serve(settings))
        except TradeTalkError as exc:
            log.info("bot stopped: %s", exc, exc_info=True)
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        except Exception:
            log.exception("the bot stopped unexpectedly")
            print(
                "error: the bot stopped unexpectedly; details are in "
                f"{log_file(settings.data_dir)}",
                file=sys.stderr,
            )
            return 1
    return 0
