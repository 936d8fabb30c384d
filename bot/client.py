"""The bot: an ``AutoShardedBot`` holding the shared resources, loading one extension per feature.

Every server the bot is in is a tenant (`tenancy`): questions there read its own library and
the global one, its admins change its library only, and its settings, audit log and feedback
are its own. Direct messages read the global library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import command_scopes, replies
from bot.conversation import ConversationMemory
from bot.cooldown import QuestionCooldown
from bot.feedback_stores import FeedbackStores
from bot.invite import invite_url
from config.settings import Settings
from corpus.fetch import ArticleFetcher
from tenancy import Libraries, retention
from tenancy.server_settings import EffectiveSettings
from tradetalk.engine import Engine
from tradetalk.errors import StartupError, TradeTalkError
from tradetalk.logs import log_file

log = logging.getLogger(__name__)
# What a good start says on the terminal too (`tradetalk run` shows this logger's lines).
status = logging.getLogger("tradetalk.status")

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.library",
    "bot.cogs.admin",
    "bot.cogs.feedback",
    "bot.cogs.audit",
    "bot.cogs.issues",
    "bot.cogs.parties",
    "bot.cogs.server_settings",
    "bot.cogs.feeds",
)
# How often servers the bot left are checked for the end of their retention period.
PURGE_INTERVAL_HOURS = 1.0


class TradeTalkTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await replies.report_failure(interaction, error)


def bot_intents() -> discord.Intents:
    intents = discord.Intents.default()  # includes direct messages and guild messages
    intents.message_content = True  # questions are read from mentions and replies
    return intents


def shard_of(server_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to (its documented formula)."""
    return (server_id >> 22) % shard_count


class TradeTalkBot(commands.AutoShardedBot):
    """Built once per run with everything the cogs share; ``main`` owns their lifetimes."""

    def __init__(
        self,
        settings: Settings,
        libraries: Libraries,
        *,
        feedback: FeedbackStores,
        fetcher: ArticleFetcher,
        **options: Any,
    ) -> None:
        # The bot has no voice features; without this, discord.py warns about missing voice
        # libraries on every start, right above any one-line startup error.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        # Discord requires shards from 2,500 servers. Without a count the library asks Discord
        # how many it recommends; with shard ids, this process runs only those (the others run
        # in other processes over the same data directory, README "Shards").
        options.setdefault("shard_count", settings.shard_count)
        options.setdefault("shard_ids", settings.shard_ids or None)
        super().__init__(
            command_prefix=commands.when_mentioned,  # required by commands.Bot; no text commands
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=TradeTalkTree,
            **options,
        )
        self.settings = settings
        self.libraries = libraries
        self.feedback = feedback
        self.fetcher = fetcher
        self.cooldown = QuestionCooldown(settings.cooldown_rate, settings.cooldown_seconds)
        self.conversations = ConversationMemory()
        self._announced = False
        # One background merge per library at a time (None: the global library).
        self._merging: dict[int | None, asyncio.Task[None]] = {}

    def merge_soon(self, library: int | None) -> None:
        """Merge a library's index segments in the background, if its policy asks for it,
        after a write (an /ingest, a removal, a feed round). One merge per library at a time;
        questions and writes go on meanwhile (`Engine.merge`)."""
        self._merging = {k: t for k, t in self._merging.items() if not t.done()}
        if library in self._merging:
            return
        self._merging[library] = asyncio.create_task(
            self._merge(library), name=f"tradetalk-merge-{library or 'global'}"
        )

    async def _merge(self, library: int | None) -> None:
        try:
            merged = await asyncio.to_thread(self.libraries.merge, library)
            if merged:
                log.info("merged the index segments of library %s %d times", library, merged)
        except Exception:  # the next write tries again
            log.exception("merging the index segments of library %s failed", library)

    @property
    def engine(self) -> Engine:
        """The global library's engine (the bundled corpus and the owner's articles)."""
        return self.libraries.global_engine

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
        self.purge_loop.start()

    async def close(self) -> None:
        self.purge_loop.cancel()
        await super().close()  # unloads the cogs: the feed loop stops first
        merging = [t for t in self._merging.values() if not t.done()]
        if merging:
            # A merge stops after its current step once the engine closes; it holds no lock
            # a restart would need, and a half-written merge is deleted at the next start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*map(asyncio.shield, merging)), 30)

    async def sync_commands(self) -> None:
        """To the configured servers (instant; no other server gets commands), else globally
        (can take Discord an hour to show). Each command is listed once: registering in servers
        empties the global list, and servers registered in last time but no longer configured
        are emptied (`bot.command_scopes`)."""
        data_dir = self.settings.data_dir
        before = await asyncio.to_thread(command_scopes.load, data_dir)
        wanted = tuple(dict.fromkeys(self.settings.guild_ids))
        try:
            if wanted:
                for guild_id in wanted:
                    guild = discord.Object(guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced = await self.tree.sync(guild=guild)
                    log.info("synced %d commands to server %s", len(synced), guild_id)
                if before.global_ or not before.guilds:  # registered globally, or not known
                    await self._empty_global_list()
                log.info(
                    "slash commands are registered in %d server(s) only (TRADETALK_GUILD_IDS): "
                    "other servers that invite the bot get none",
                    len(wanted),
                )
            else:
                synced = await self.tree.sync()
                log.info(
                    "synced %d global commands (Discord may take an hour to show them)", len(synced)
                )
            for guild_id in before.guilds:
                if guild_id not in wanted:
                    await self._empty_server_list(guild_id)
            after = command_scopes.CommandScopes(global_=not wanted, guilds=wanted)
            await asyncio.to_thread(command_scopes.save, data_dir, after)
        except discord.HTTPException:
            # The bot still answers mentions; commands keep their last synced form.
            log.exception("could not sync application commands")

    async def _empty_global_list(self) -> None:
        """Registered per server now: an earlier global registration would list each command
        twice in those servers."""
        global_commands = self.tree.get_commands()
        self.tree.clear_commands(guild=None)
        try:
            await self.tree.sync()
        finally:
            for command in global_commands:  # the tree keeps serving the per-server copies
                self.tree.add_command(command)
        log.info("emptied the global command list, so each command shows once")

    async def _empty_server_list(self, guild_id: int) -> None:
        """A server registered in before but no longer configured: its own copies go, so it
        doesn't list the global commands twice."""
        guild = discord.Object(guild_id)
        self.tree.clear_commands(guild=guild)
        try:
            await self.tree.sync(guild=guild)
        except discord.Forbidden:  # the bot has left it: nothing of ours is shown there
            log.info("could not empty the commands of server %s (no access)", guild_id)
            return
        log.info(
            "emptied the command list of server %s, no longer in TRADETALK_GUILD_IDS", guild_id
        )

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: without this, commands.Bot would parse every mention as one.
        Questions are handled by the Ask cog's listener."""

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected as %s (%s) to %d servers", user, user.id if user else "?", len(self.guilds)
        )
        if self._announced:  # on_ready comes again after a reconnect: say it once
            return
        self._announced = True
        data_dir = self.settings.data_dir.resolve()
        status.info("TradeTalk is up: connected as %s to %d server(s).", user, len(self.guilds))
        status.info("Data: %s (log: %s)", data_dir, log_file(data_dir))
        status.info("Slash commands: %s.", self._command_scope_text())
        if self.application_id:
            status.info("Invite it to a server: %s", invite_url(self.application_id))

    def _command_scope_text(self) -> str:
        if self.settings.guild_ids:
            servers = ", ".join(map(str, self.settings.guild_ids))
            return (
                f"registered in server(s) {servers} only (TRADETALK_GUILD_IDS); other servers "
                "that invite the bot get none"
            )
        return "registered globally (every server; Discord can take up to an hour to show them)"

    # -- who is who ------------------------------------------------------------------------

    async def is_library_owner(self, user: discord.abc.User) -> bool:
        """The application's owner (or its team), or one of ``TRADETALK_OWNER_IDS``."""
        if user.id in self.settings.owner_ids:
            return True
        return await self.is_owner(user)

    async def server_settings(self, server_id: int | None) -> EffectiveSettings:
        """A server's channels, admin roles and cooldown (the environment's in DMs)."""
        return await asyncio.to_thread(self.libraries.settings_for, server_id)

    # -- servers joining and leaving -------------------------------------------------------

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its data stays for the retention period, then goes."""
        log.info("left server %s; its data is kept %g days", guild.id, self.settings.retention_days)
        await asyncio.to_thread(self.libraries.left, guild.id)
        await self.feedback.forget(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Invited (back): a server rejoining within the retention period keeps its library."""
        log.info("joined server %s", guild.id)
        await asyncio.to_thread(self.libraries.joined, guild.id)

    def owns_server(self, server_id: int) -> bool:
        """Is this process the one that serves (and so purges) this server's shard?"""
        if self.shard_ids is None or not self.shard_count:
            return True
        return shard_of(server_id, self.shard_count) in self.shard_ids

    async def purge_expired(self) -> list[int]:
        """Purge the servers left longer ago than the retention period (those this process's
        shards serve, and only if the bot has not been invited back). Returns their ids."""
        settings = self.settings
        expired = await asyncio.to_thread(retention.expired_servers, settings)
        purged = []
        for server_id in expired:
            if not self.owns_server(server_id):
                continue
            if self.get_guild(server_id) is not None:  # back in it: the leave is void
                await asyncio.to_thread(self.libraries.joined, server_id)
                continue
            await asyncio.to_thread(self.libraries.forget, server_id)
            await self.feedback.forget(server_id)
            try:
                await asyncio.to_thread(retention.purge_server, settings, server_id)
            except TradeTalkError as exc:  # busy: the next sweep tries again
                log.warning("not purging server %s yet: %s", server_id, exc)
                continue
            purged.append(server_id)
        return purged

    @tasks.loop(hours=PURGE_INTERVAL_HOURS)
    async def purge_loop(self) -> None:
        try:
            await asyncio.to_thread(retention.sweep_leftovers, self.settings)
            await self.purge_expired()
        except Exception:
            log.exception("the retention sweep failed; trying again in an hour")

    @purge_loop.before_loop
    async def _before_purge(self) -> None:
        await self.wait_until_ready()
