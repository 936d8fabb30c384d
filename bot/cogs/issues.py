"""Issue briefings: /issue shows where one negotiation issue stands (with a timeline picture),
/issues list lists them all, /whatsnew says which gained developments since the last check.
/issue takes any topic too: a briefing built on the spot from the articles that discuss it,
which an admin can keep with /issues keep.
Answers are public: they are about the news, like /ask's. /issues suggest lets admins review
the issues discovered in the articles (bot/proposal_review.py), privately.

Each server's briefings read what its questions read (its library and the global one), with
its own catalogue changes and its own what's-new state."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import briefing_format, replies
from bot.formatting import CHOICES_MAX, escape, fit
from bot.issues import most_relevant
from bot.permissions import actor_of, admin_only
from bot.proposal_review import ProposalButton, release, review_message
from briefings import Briefing, IssueBriefings, since_last_check
from briefings.briefing import PROPOSED
from briefings.chart import timeline_description, timeline_png
from tradetalk.errors import TradeTalkError, UnknownIssue

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)


def _not_curated(briefing: Briefing) -> str | None:
    """The line above a briefing the server has not kept as an issue."""
    if briefing.curated:
        return None
    if briefing.kind == PROPOSED:
        what = "A proposed issue, not yet accepted: built from the articles that discuss it."
    else:
        topic = briefing.issue.aliases[0] if briefing.issue.aliases else briefing.issue.title
        what = (
            "Not a curated issue: built on the spot from the articles that discuss "
            f"“{escape(fit(topic, 100))}”."
        )
    return f"*{what} Admins can keep it with /issues keep.*"


def _picture(briefing: Briefing) -> tuple[discord.File | None, str | None]:
    """The timeline picture as an attachment, or none (logged) if it could not be drawn: the
    briefing itself still goes out."""
    if not briefing.mentioned:
        return None, None
    try:
        data = timeline_png(briefing)
    except Exception:
        log.exception("could not draw the timeline of %s", briefing.issue.id)
        return None, None
    name = f"timeline-{briefing.issue.id}.png"
    picture = discord.File(
        io.BytesIO(data), filename=name, description=timeline_description(briefing)
    )
    return picture, f"attachment://{name}"


class Issues(commands.Cog):
    issues_group = app_commands.Group(
        name="issues", description="The negotiation issues: list them, or review new ones"
    )

    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ProposalButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ProposalButton)

    async def briefings(self, interaction: discord.Interaction) -> IssueBriefings:
        return await asyncio.to_thread(self.bot.libraries.briefings, interaction.guild_id)

    @app_commands.command(
        name="issue",
        description="Where a negotiation issue stands: "
        "each side's position, a timeline and sources",
    )
    @app_commands.describe(
        topic="An issue (start typing to pick one), or any subject the articles discuss"
    )
    async def issue(self, interaction: discord.Interaction, topic: str) -> None:
        briefings = await self.briefings(interaction)
        if not await asyncio.to_thread(briefings.briefable, topic):
            # The catalogue and the typed words alone (no index scan): a topic with nothing to
            # brief on is told privately at once, before a public "thinking…" that would vanish.
            await self._unknown(interaction, briefings, topic)
            return
        # Then at once: the first briefing on a new index, or one built on the spot from the
        # sentences about a topic, scans the index, well past Discord's 3 seconds.
        await replies.defer(interaction)  # if too late, the reply goes to the channel
        try:
            briefing = await asyncio.to_thread(briefings.briefing, topic)
        except UnknownIssue:  # no article discusses it: said privately (the placeholder goes)
            await self._unknown(interaction, briefings, topic)
            return
        picture, url = await asyncio.to_thread(_picture, briefing)
        await replies.send(
            interaction,
            _not_curated(briefing),
            embeds=briefing_format.briefing_embeds(briefing, url),
            file=picture,
        )

    async def _unknown(
        self, interaction: discord.Interaction, briefings: IssueBriefings, topic: str
    ) -> None:
        similar = await asyncio.to_thread(briefings.similar, topic)
        await replies.send(
            interaction, briefing_format.unknown_issue_text(topic, similar), ephemeral=True
        )

    @issue.autocomplete("topic")
    async def topic_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        try:
            briefings = await self.briefings(interaction)
            issues = await asyncio.to_thread(briefings.suggest, typed, CHOICES_MAX)
        except TradeTalkError as exc:  # a broken catalogue: /issue itself says what is wrong
            log.warning("no issue choices for %r: %s", typed[:100], exc)
            return []
        return briefing_format.issue_choices(issues, typed)

    @issues_group.command(
        name="list", description="List the negotiation issues and where each stands"
    )
    async def issues(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)
        briefings = await self.briefings(interaction)
        statuses = await asyncio.to_thread(briefings.statuses)
        await replies.send(interaction, embed=briefing_format.statuses_embed(statuses))

    @issues_group.command(
        name="suggest", description="Review issues found in the articles (admins)"
    )
    @admin_only()
    async def suggest(self, interaction: discord.Interaction) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        content, embed, view = await review_message(await self.briefings(interaction))
        await replies.send(interaction, content, embed=embed, view=view, ephemeral=True)
        release(view)

    @issues_group.command(
        name="keep", description="Keep a topic or a proposed issue as one of this server's issues"
    )
    @app_commands.describe(
        topic="The topic as /issue was asked it, or a proposed issue",
        title="Name it this (optional)",
    )
    @admin_only()
    async def keep(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 100],
        title: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        briefings = await self.briefings(interaction)
        audit = self.bot.libraries.audit(interaction.guild_id)
        try:
            issue = await asyncio.to_thread(briefings.keep, topic, title)
        except TradeTalkError as exc:
            await asyncio.to_thread(
                audit.record, actor_of(interaction.user), "issue-add", topic, "failed", str(exc)
            )
            raise
        await asyncio.to_thread(
            audit.record, actor_of(interaction.user), "issue-add", issue.id, "ok", issue.title
        )
        await replies.send(
            interaction,
            f"Kept “{escape(fit(issue.title, 100))}” (`{issue.id}`): /issue {issue.id} briefs "
            "on it, and what's new on it is listed.",
            ephemeral=True,
        )

    @keep.autocomplete("topic")
    async def keep_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        return await self.topic_choices(interaction, typed)

    @app_commands.command(
        name="whatsnew", description="Which issues gained new developments since your last check"
    )
    async def whatsnew(self, interaction: discord.Interaction) -> None:
        # Each member's own news since their own last check: private, and it uses up nothing
        # for anyone else.
        if not await replies.defer(interaction, ephemeral=True):
            return
        briefings = await self.briefings(interaction)
        updates = await asyncio.to_thread(since_last_check, briefings, interaction.user.id)
        chosen = await asyncio.to_thread(
            lambda: {u.issue.id: most_relevant(briefings, u) for u in updates}
        )
        embed = briefing_format.whatsnew_embed(updates, chosen)
        await replies.send(interaction, embed=embed, ephemeral=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Issues(bot))
