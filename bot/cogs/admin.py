"""Admin commands: /ingest an article (file or link), /reindex everything, /remove an article,
each on the library of the server it is used in and nothing else; and /global ingest, reindex
and remove, the same on the global library every server reads, for the bot's owner only.

Each is hidden from non-admins by ``default_permissions`` and checked again here; replies are
private, since they are about running the bot rather than about the news.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import briefing_format, formatting, replies
from bot.issues import article_hashes, new_developments, touched_issues
from bot.permissions import actor_of, admin_only, is_server_admin, owner_only
from corpus.articles import SUFFIXES
from tradetalk.engine import IngestResult
from tradetalk.errors import ArticleError

Library = int | None  # the server whose library a command changes; None: the global library

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)

# Content types Discord may give a text article besides text/*: nothing is downloaded otherwise.
TEXT_LIKE_TYPES = frozenset({"application/xhtml+xml", "application/octet-stream"})

# Discord allows about five edits per message in five seconds; progress needs far fewer.
PROGRESS_EDIT_SECONDS = 2.0


@dataclass
class RebuildProgress:
    """Written by the rebuild's worker thread, read by the event loop. Each write replaces one
    tuple (atomic under the GIL), so no lock is needed for a progress display."""

    counts: tuple[int, int] = (0, 0)

    def update(self, done: int, total: int) -> None:
        self.counts = (done, total)


@contextlib.asynccontextmanager
async def audited(
    bot: TradeTalkBot,
    interaction: discord.Interaction,
    action: str,
    target: str,
    library: Library,
):
    """Record the action in the audit log of the library it changes: "ok", or "failed" with
    the reason."""
    outcome = {"value": "ok", "target": target, "detail": ""}
    try:
        yield outcome
    except Exception as exc:
        outcome["value"], outcome["detail"] = "failed", str(exc).splitlines()[0][:300]
        raise
    finally:
        if library is None and interaction.guild_id is not None:
            outcome["detail"] = f"{outcome['detail']} (from server {interaction.guild_id})".strip()
        try:
            await asyncio.to_thread(
                bot.libraries.audit(library).record,
                actor_of(interaction.user),
                action,
                outcome["target"],
                outcome["value"],
                outcome["detail"],
            )
        except OSError:
            log.warning("could not write the audit log", exc_info=True)


class Admin(commands.Cog):
    progress_interval = PROGRESS_EDIT_SECONDS  # seconds between progress edits

    global_library = app_commands.Group(
        name="global",
        description="The global library every server reads (the bot's owner only)",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot
        self._rebuilds: dict[Library, RebuildProgress] = {}  # one reindex per library at a time

    # -- /ingest ------------------------------------------------------------------------------

    @app_commands.command(name="ingest", description="Add an article from a file or a link")
    @app_commands.describe(
        file="An article file (.md, .txt or .html)", url="A link to the article (http or https)"
    )
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def ingest(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
    ) -> None:
        await self._ingest(interaction, file, url, interaction.guild_id)

    @global_library.command(name="ingest", description="Add an article every server reads")
    @app_commands.describe(
        file="An article file (.md, .txt or .html)", url="A link to the article (http or https)"
    )
    @owner_only()
    async def global_ingest(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
    ) -> None:
        await self._ingest(interaction, file, url, None)

    async def _ingest(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None,
        url: str | None,
        library: Library,
    ) -> None:
        if (file is None) == (url is None):
            await replies.send(
                interaction, "Give either a file or a url (one of them).", ephemeral=True
            )
            return
        if not await replies.defer(interaction, ephemeral=True):
            return
        libraries = self.bot.libraries
        briefings = await asyncio.to_thread(libraries.briefings, library)
        source = file.filename if file is not None else str(url)
        before = await asyncio.to_thread(article_hashes, briefings)
        async with audited(self.bot, interaction, "ingest", source, library) as outcome:
            fetched_from = None
            if file is not None:
                data, name = await self._download_attachment(file), file.filename
            else:
                page = await self.bot.fetcher.fetch(str(url))
                # The URL it was fetched from is the article's identity; what the page says
                # about itself (canonical URL, outlet) is kept as its claim.
                data, name, fetched_from = page.data, page.filename, page.url
            # wait=False: during a rebuild, say so at once rather than hang for minutes.
            result: IngestResult = await asyncio.to_thread(
                functools.partial(
                    libraries.ingest_bytes,
                    library,
                    data,
                    name,
                    fetched_from=fetched_from,
                    wait=False,
                )
            )
            outcome.update(target=result.article.id, detail=source)
            if result.status == "unchanged":
                outcome["value"] = "unchanged"
        if result.status != "unchanged":
            self.bot.merge_soon(library)  # in the background: the article is answerable already
        issues = await asyncio.to_thread(touched_issues, briefings, result.article)
        log.info(
            "user %s ingested %s (%s) into the %s library",
            interaction.user.id,
            result.article.id,
            result.status,
            "global" if library is None else f"server {library}",
        )
        text = formatting.ingest_text(result, issues)
        if result.status != "unchanged":
            updates = await asyncio.to_thread(new_developments, briefings, before)
            text = briefing_format.with_developments(text, updates)
        await replies.send(interaction, text, ephemeral=True)

    async def _download_attachment(self, file: discord.Attachment) -> bytes:
        limit = self.bot.settings.max_article_bytes
        if Path(file.filename).suffix.lower() not in SUFFIXES:
            raise ArticleError(f"{file.filename}: unsupported file type (use .md, .txt or .html)")
        kind = (file.content_type or "").split(";")[0].strip().lower()
        if kind and not kind.startswith("text/") and kind not in TEXT_LIKE_TYPES:
            raise ArticleError(f"{file.filename}: sent as {kind}, not as a text file")
        if file.size > limit:
            raise ArticleError(
                f"{file.filename}: {file.size:,} bytes is over the {limit:,}-byte limit"
            )
        try:
            return await file.read()
        except discord.HTTPException as exc:
            raise ArticleError(f"{file.filename}: could not download the attachment") from exc

    # -- /reindex -----------------------------------------------------------------------------

    @app_commands.command(name="reindex", description="Re-embed every article (in the background)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        await self._reindex(interaction, interaction.guild_id)

    @global_library.command(name="reindex", description="Re-embed the global library")
    @owner_only()
    async def global_reindex(self, interaction: discord.Interaction) -> None:
        await self._reindex(interaction, None)

    async def _reindex(self, interaction: discord.Interaction, library: Library) -> None:
        running = self._rebuilds.get(library)
        if running is not None:  # checked on the event loop, so two commands can't race
            done, total = running.counts
            so_far = f" ({done:,}/{total:,} passages so far)" if total else ""
            await replies.send(
                interaction,
                f"A reindex is already running{so_far}; questions are still answered meanwhile.",
                ephemeral=True,
            )
            return
        if library is not None:
            own = await asyncio.to_thread(self.bot.libraries.own_articles, library)
            if not own:
                shared = await asyncio.to_thread(self.bot.libraries.articles, library)
                await replies.send(
                    interaction, formatting.nothing_to_reindex(len(shared)), ephemeral=True
                )
                return
        progress = self._rebuilds[library] = RebuildProgress()
        try:
            if not await replies.defer(interaction, ephemeral=True):
                return
            await replies.send(interaction, formatting.progress_text(0, 0), ephemeral=True)
            log.info("user %s started a reindex of library %s", interaction.user.id, library)
            briefings = await asyncio.to_thread(self.bot.libraries.briefings, library)
            before = await asyncio.to_thread(article_hashes, briefings)
            async with audited(self.bot, interaction, "reindex", "all", library) as outcome:
                final = await self._run_rebuild(interaction, progress, library)
                if final.startswith("Reindex failed"):
                    outcome.update(value="failed", detail=final)
                else:
                    updates = await asyncio.to_thread(new_developments, briefings, before)
                    final = briefing_format.with_developments(final, updates)
            await replies.edit(interaction, final)
        finally:
            self._rebuilds.pop(library, None)

    async def _run_rebuild(
        self, interaction: discord.Interaction, progress: RebuildProgress, library: Library
    ) -> str:
        """Rebuild in a worker thread while the reply shows progress; the final line to show."""
        started = time.monotonic()
        finished = asyncio.Event()
        reporter = asyncio.create_task(self._show_progress(interaction, progress, finished))
        try:
            index = await asyncio.to_thread(self.bot.libraries.rebuild, library, progress.update)
        except Exception as exc:
            return "Reindex failed: " + replies.describe_failure(exc, where="reindex")
        finally:
            # Let an edit in flight finish rather than cancel it, so it can't land after ours.
            finished.set()
            await reporter
        seconds = time.monotonic() - started
        shared = 0
        if library is not None:
            everything = await asyncio.to_thread(self.bot.libraries.articles, library)
            shared = sum(1 for a in everything if a.library != "server")
        return formatting.reindexed_text(
            seconds,
            passages=index.manifest.passage_count,
            articles=len(index.articles),
            version=index.version,
            server=library is not None,
            shared=shared,
        )

    async def _show_progress(
        self, interaction: discord.Interaction, progress: RebuildProgress, finished: asyncio.Event
    ) -> None:
        shown = (0, 0)
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), self.progress_interval)
                return
            if progress.counts != shown:
                shown = progress.counts
                try:
                    await replies.edit(interaction, formatting.progress_text(*shown))
                except discord.HTTPException:
                    log.warning("could not show reindex progress", exc_info=True)

    # -- /remove ------------------------------------------------------------------------------

    @app_commands.command(name="remove", description="Take an added article out")
    @app_commands.describe(article_id="The article (start typing its title)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @admin_only()
    async def remove(self, interaction: discord.Interaction, article_id: str) -> None:
        await self._remove(interaction, article_id, interaction.guild_id)

    @global_library.command(name="remove", description="Take an article out of the global library")
    @app_commands.describe(article_id="The article (start typing its title)")
    @owner_only()
    async def global_remove(self, interaction: discord.Interaction, article_id: str) -> None:
        await self._remove(interaction, article_id, None)

    async def _remove(
        self, interaction: discord.Interaction, article_id: str, library: Library
    ) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        async with audited(self.bot, interaction, "remove", article_id.strip(), library):
            info = await asyncio.to_thread(
                functools.partial(
                    self.bot.libraries.remove, library, article_id.strip(), wait=False
                )
            )
        self.bot.merge_soon(library)
        log.info(
            "user %s removed article %s from library %s", interaction.user.id, info.id, library
        )
        await replies.send(interaction, formatting.removed_text(info), ephemeral=True)

    @remove.autocomplete("article_id")
    async def remove_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        # Autocomplete runs without the command's checks: don't list articles to non-admins,
        # and an admin sees their own server's articles only.
        if interaction.guild_id is None or not await is_server_admin(self.bot, interaction.user):
            return []
        articles = await asyncio.to_thread(self.bot.libraries.own_articles, interaction.guild_id)
        return formatting.removable_choices(articles, typed)

    @global_remove.autocomplete("article_id")
    async def global_remove_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        if not await self.bot.is_library_owner(interaction.user):
            return []
        articles = await asyncio.to_thread(self.bot.libraries.own_articles, None)
        return formatting.removable_choices(articles, typed)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Admin(bot))
