"""Feeds: /follow, /unfollow and /feeds (a server's admins, on that server's feeds only, private
replies), and the loop that polls every library's followed feeds and posts a digest of what
they added to the channel each feed names.

Each server's feeds are its own (`tenancy.layout`: ``servers/<id>/feeds.sqlite3``), and their
items go into that server's library; feeds the owner follows from the CLI without ``--server``
feed the global library. The loop is one asyncio task: it wakes every ``feed_check_seconds``
(or at once after a /follow), and for each library whose store has work (`FeedStore.has_work`,
one query: idle servers are never loaded) runs a round of `feeds.poll.FeedPoller` with that
library's engine held loaded (fetching on the event loop with the bot's safe fetcher; parsing,
ingesting and the SQLite store in worker threads), posts the digests, then lets the bot merge
that library's index segments in the background. Nothing in it blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import feeds_format, replies
from bot.cogs.admin import audited
from bot.formatting import fit, safe_url
from bot.permissions import actor_of, admin_only, is_server_admin
from feeds.digest import pending_digests
from feeds.poll import FeedPoller, RoundReport, check_feed
from feeds.store import Feed, FeedStore
from tenancy.layout import feed_store_of, stored_libraries_with_feeds, tables_of
from tradetalk.engine import Engine
from tradetalk.errors import FeedError

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30.0  # a round in its ingest is let finish when the bot stops

Library = int | None  # a server's library, or None: the global one


class Feeds(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tradetalk-feeds")

    async def cog_unload(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- where each library's feeds are ------------------------------------------------------

    def _tables(self, library: Library):
        return tables_of(self.bot.settings, library, "feeds")

    @contextlib.asynccontextmanager
    async def _store(self, library: Library) -> AsyncIterator[FeedStore]:
        """The library's feed store, opened for one use. Not kept open: a server purged after
        the bot left it must not have its directory brought back by a stale connection."""
        store = feed_store_of(self.bot.settings, library)
        try:
            yield store
        finally:
            await asyncio.to_thread(store.close)

    async def _feeds_of(self, library: Library) -> list[Feed]:
        if not await asyncio.to_thread(self._tables(library).exists):
            return []  # nothing followed here: no store is made by looking
        async with self._store(library) as store:
            return await asyncio.to_thread(store.feeds)

    @contextlib.asynccontextmanager
    async def _engine(self, library: Library) -> AsyncIterator[Engine]:
        """The library's engine, held loaded (never evicted) for the length of a round."""
        if library is None:
            yield self.bot.engine
            return
        held = contextlib.ExitStack()
        libraries = self.bot.libraries
        engine = await asyncio.to_thread(
            lambda: held.enter_context(libraries.using(library, create=True))
        )
        try:
            yield engine
        finally:
            await asyncio.to_thread(held.close)

    def _polls_here(self, library: Library) -> bool:
        """Each library is polled by one process: the one whose shards serve the server (the
        first shard's for the global library), and only while the bot is in that server."""
        if library is None:
            return self.bot.shard_ids is None or 0 in self.bot.shard_ids
        return self.bot.owns_server(library) and self.bot.get_guild(library) is not None

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next tick tries again; the store has the feed's error
                log.exception("a round of feed polling failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.bot.settings.feed_check_seconds)
            self._wake.clear()

    async def poll_once(self) -> None:
        """One round for every library whose feeds have work; one library failing does not
        stop the others."""
        libraries = await asyncio.to_thread(stored_libraries_with_feeds, self.bot.settings)
        for library in libraries:
            if not self._polls_here(library):
                continue
            try:
                await self.poll_library(library)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a round of feed polling failed for library %s", library)

    async def poll_library(self, library: Library) -> RoundReport | None:
        """A round of one library's feeds, its digests posted, a merge started if it added
        articles; None if it had nothing to do. The round is shielded: a stop while it ingests
        lets it finish (the store and index stay in step)."""
        async with self._store(library) as store:
            if not await asyncio.to_thread(store.has_work):
                return None
            async with self._engine(library) as engine:
                settings = self.bot.settings
                poller = FeedPoller(
                    store,
                    engine,
                    self.bot.fetcher,
                    max_items=settings.feed_max_items,
                    max_feed_bytes=settings.feed_max_bytes,
                )
                round_ = asyncio.ensure_future(poller.run_round())
                try:
                    report = await asyncio.shield(round_)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(round_, STOP_GRACE_SECONDS)
                    raise
                audit = self.bot.libraries.audit(library)
                for item, article in report.ingested:
                    await asyncio.to_thread(
                        audit.record, "feed", "ingest", article.id, "ok", item.link
                    )
                await self.post_digests(library, store, engine)
        if report.ingested:
            log.info("feeds added %d articles to library %s", len(report.ingested), library)
            self.bot.merge_soon(library)
        return report

    async def post_digests(self, library: Library, store: FeedStore, engine: Engine) -> None:
        briefings = await asyncio.to_thread(self.bot.libraries.briefings, library)
        digests = await asyncio.to_thread(
            pending_digests, store, engine, briefings, channels_only=True
        )
        for digest in digests:
            if digest.channel_id is None:  # channels_only: not expected, never posted anywhere
                continue
            if digest.articles:
                try:
                    channel = self.bot.get_channel(digest.channel_id)
                    if channel is None:
                        channel = await self.bot.fetch_channel(digest.channel_id)
                    guild = getattr(channel, "guild", None)
                    if library is not None and (guild is None or guild.id != library):
                        # /follow checks this; a channel moved or a store copied must not
                        # post one server's news in another.
                        raise TypeError(f"channel {digest.channel_id} is not in server {library}")
                    if not isinstance(channel, discord.abc.Messageable):
                        raise TypeError(f"channel {digest.channel_id} takes no messages")
                    await channel.send(
                        feeds_format.digest_message(digest), allowed_mentions=replies.NO_PINGS
                    )
                except discord.HTTPException as exc:
                    if exc.status >= 500 or exc.status == 429:
                        log.warning("could not post a feed digest now; trying again later")
                        continue
                    log.warning("dropping a feed digest for channel %s: %s", digest.channel_id, exc)
                except TypeError as exc:
                    log.warning("dropping a feed digest: %s", exc)
            await asyncio.to_thread(store.digested, digest.items)

    # -- commands ---------------------------------------------------------------------------

    @app_commands.command(name="follow", description="Follow a news feed (RSS, Atom or RDF)")
    @app_commands.describe(
        url="The feed's link (http or https)",
        channel="Where digests of its new articles go (default: this channel)",
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def follow(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        library = interaction.guild_id
        url = url.strip()
        target = channel.id if channel is not None else interaction.channel_id
        async with audited(self.bot, interaction, "follow", url, library) as outcome:
            if channel is not None and channel.guild.id != library:
                raise FeedError("digests can only go to a channel of this server")
            settings = self.bot.settings
            # A feed, fetched safely, or the reason not; no library is loaded for it.
            title = await check_feed(self.bot.fetcher, url, max_bytes=settings.feed_max_bytes)
            async with self._store(library) as store:
                feed, new = await asyncio.to_thread(
                    lambda: store.follow(
                        url,
                        added_by=actor_of(interaction.user),
                        channel_id=target,
                        interval_s=settings.feed_interval_minutes * 60,
                    )
                )
            outcome["detail"] = title or ""
            if not new:
                outcome["value"] = "unchanged"
        log.info("user %s followed %s in server %s", interaction.user.id, url, library)
        self._wake.set()  # its first poll now
        name = f" ({fit(title, 150)})" if title else ""
        verb = "Following" if new else "Already following"
        where = f"<#{target}>" if target else "no channel"
        minutes = feed.interval_s / 60
        await replies.send(
            interaction,
            f"{verb} <{safe_url(feed.url)}>{name}. New articles are added every "
            f"{minutes:g} minutes or so, with a digest in {where}.",
            ephemeral=True,
        )

    @app_commands.command(name="unfollow", description="Stop following a news feed")
    @app_commands.describe(url="The followed feed (start typing to pick one)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def unfollow(self, interaction: discord.Interaction, url: str) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        library = interaction.guild_id
        async with audited(self.bot, interaction, "unfollow", url.strip(), library):
            if not await asyncio.to_thread(self._tables(library).exists):
                raise FeedError(f"{url.strip()} is not followed (see the list of feeds)")
            async with self._store(library) as store:
                feed = await asyncio.to_thread(store.unfollow, url.strip())
        log.info("user %s unfollowed %s in server %s", interaction.user.id, feed.url, library)
        await replies.send(
            interaction,
            f"Stopped following <{safe_url(feed.url)}>; its "
            f"{feed.article_count:,} articles stay in the library.",
            ephemeral=True,
        )

    @unfollow.autocomplete("url")
    async def unfollow_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        # Autocomplete runs without the command's checks: nothing for non-admins, and an admin
        # sees this server's feeds only.
        if interaction.guild_id is None or not await is_server_admin(self.bot, interaction.user):
            return []
        return feeds_format.feed_choices(await self._feeds_of(interaction.guild_id), typed)

    @app_commands.command(name="feeds", description="The followed feeds and how they are doing")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def feeds(self, interaction: discord.Interaction) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        feeds = await self._feeds_of(interaction.guild_id)
        await replies.send(interaction, embed=feeds_format.feeds_embed(feeds), ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Feeds(bot))
