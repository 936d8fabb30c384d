"""The bot: a ``commands.Bot`` holding the shared resources, loading one extension per feature."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.conversation import ConversationMemory
from bot.cooldown import QuestionCooldown
from bot.feedback_store import FeedbackStore
from config.settings import Settings
from corpus.fetch import ArticleFetcher
from tradetalk.audit import AuditLog
from tradetalk.engine import Engine
from tradetalk.errors import StartupError

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.library",
    "bot.cogs.admin",
    "bot.cogs.feedback",
    "bot.cogs.audit",
    "bot.cogs.issues",
    "bot.cogs.feeds",
)


class TradeTalkTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await replies.report_failure(interaction, error)


def bot_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # questions are read from mentions and replies
    return intents


class TradeTalkBot(commands.Bot):
    """Built once per run with everything the cogs share; ``main`` owns their lifetimes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        feedback: FeedbackStore,
        fetcher: ArticleFetcher,
        **options: Any,
    ) -> None:
        # The bot has no voice features; without this, discord.py warns about missing voice
        # libraries on every start, right above any one-line startup error.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,  # required by commands.Bot; no text commands
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=TradeTalkTree,
            **options,
        )
        self.settings = settings
        self.engine = engine
        self.feedback = feedback
        self.fetcher = fetcher
        self.audit = AuditLog(settings.audit_db)
        self.cooldown = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        self.conversations = ConversationMemory()
        self._merging: asyncio.Task[None] | None = None

    def merge_soon(self) -> None:
        """Merge the index's segments in the background, if its policy asks for it, after a
        write (an /ingest, a feed round). One merge at a time; questions and writes go on
        meanwhile (`Engine.merge`)."""
        if self._merging is not None and not self._merging.done():
            return
        self._merging = asyncio.create_task(self._merge(), name="tradetalk-merge")

    async def _merge(self) -> None:
        try:
            if await asyncio.to_thread(self.engine.merge_pending):
                merged = await asyncio.to_thread(self.engine.merge)
                log.info("merged index segments %d times", merged)
        except Exception:  # the next write tries again
            log.exception("merging index segments failed")

    async def close(self) -> None:
        await super().close()  # unloads the cogs: the feed loop stops first
        if self._merging is not None:
            # A merge stops after its current step once the engine closes; it holds no lock
            # a restart would need, and a half-written merge is deleted at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._merging), 30)

    async def setup_hook(self) -> None:
        """Load every extension, then sync the commands. One that fails stops the start: the
        sync would otherwise tell Discord to drop its commands for every server."""
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except Exception as exc:
                # Its traceback is logged where the start fails (run_bot), under this error.
                cause = exc.original if isinstance(exc, commands.ExtensionFailed) else exc
                raise StartupError(
                    f"could not load {extension} ({type(cause).__name__}: "
                    f"{str(cause).splitlines()[0] if str(cause) else 'no message'}); not "
                    "starting, so Discord keeps the commands it has (details in the log)"
                ) from exc
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To the configured guilds (instant), else globally (can take an hour to show)."""
        try:
            if self.settings.guild_ids:
                for guild_id in self.settings.guild_ids:
                    guild = discord.Object(guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced = await self.tree.sync(guild=guild)
                    log.info("synced %d commands to guild %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d global commands", len(synced))
        except discord.HTTPException:
            # The bot still answers mentions; commands keep their last synced form.
            log.exception("could not sync application commands")

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: without this, commands.Bot would parse every mention as one.
        Questions are handled by the Ask cog's listener."""

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected as %s (%s) to %d servers", user, user.id if user else "?", len(self.guilds)
        )
