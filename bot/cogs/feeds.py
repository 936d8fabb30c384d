"""Feeds: /follow, /unfollow and /feeds (admins, private replies), and the loop that polls the
followed feeds and posts a digest of what they added to the channel each feed names.

The loop is one asyncio task: it wakes every ``feed_check_seconds`` (or at once after a
/follow), runs a round of `feeds.poll.FeedPoller` (fetching on the event loop with the bot's
safe fetcher, parsing, ingesting and the SQLite store in worker threads), posts the digests,
then lets the bot merge index segments in the background. Nothing in it blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import feeds_format, replies
from bot.cogs.admin import audited
from bot.formatting import fit, safe_url
from bot.permissions import actor_of, admin_only, is_admin
from feeds.digest import pending_digests
from feeds.poll import FeedPoller
from feeds.store import FeedStore

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30.0  # a round in its ingest is let finish when the bot stops


class Feeds(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot
        settings = bot.settings
        self.store = FeedStore(settings.data_dir)
        self.poller = FeedPoller(
            self.store,
            bot.engine,
            bot.fetcher,
            max_items=settings.feed_max_items,
            max_feed_bytes=settings.feed_max_bytes,
        )
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
        await asyncio.to_thread(self.store.close)

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
        """One round, its digests posted, a merge started if it added articles. The round is
        shielded: a stop while it ingests lets it finish (the store and index stay in step)."""
        round_ = asyncio.ensure_future(self.poller.run_round())
        try:
            report = await asyncio.shield(round_)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(round_, STOP_GRACE_SECONDS)
            raise
        for item, article in report.ingested:
            await asyncio.to_thread(
                self.bot.audit.record, "feed", "ingest", article.id, "ok", item.link
            )
        await self.post_digests()
        if report.ingested:
            self.bot.merge_soon()

    async def post_digests(self) -> None:
        for digest in await asyncio.to_thread(pending_digests, self.store, self.bot.engine):
            if digest.channel_id is None:
                continue  # followed from the CLI: `tradetalk poll` prints its digest
            if digest.articles:
                channel = self.bot.get_channel(digest.channel_id)
                try:
                    if channel is None:
                        channel = await self.bot.fetch_channel(digest.channel_id)
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
            await asyncio.to_thread(self.store.digested, digest.items)

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
        url = url.strip()
        target = channel.id if channel is not None else interaction.channel_id
        async with audited(self.bot, interaction, "follow", url) as outcome:
            title = await self.poller.check(url)  # a feed, fetched safely, or the reason not
            feed, new = await asyncio.to_thread(
                lambda: self.store.follow(
                    url,
                    added_by=actor_of(interaction.user),
                    channel_id=target,
                    interval_s=self.bot.settings.feed_interval_minutes * 60,
                )
            )
            outcome["detail"] = title or ""
            if not new:
                outcome["value"] = "unchanged"
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
        async with audited(self.bot, interaction, "unfollow", url.strip()):
            feed = await asyncio.to_thread(self.store.unfollow, url.strip())
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
        if not is_admin(interaction.user, self.bot.settings.admin_role_ids):
            return []
        return feeds_format.feed_choices(await asyncio.to_thread(self.store.feeds), typed)

    @app_commands.command(name="feeds", description="The followed feeds and how they are doing")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def feeds(self, interaction: discord.Interaction) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        feeds = await asyncio.to_thread(self.store.feeds)
        await replies.send(interaction, embed=feeds_format.feeds_embed(feeds), ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Feeds(bot))
