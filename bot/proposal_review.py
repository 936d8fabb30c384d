"""``/issues suggest``: admins review the issues discovery proposes, one at a time, with
buttons (Accept, Rename…, Merge…, Drop, Next) and modals for the new title or the issue to
merge into.

The buttons' custom ids carry the action and the proposal's id, so one registration serves
every review message, across restarts; a click recomputes the proposals (cached per index
build and catalogue) and acts on the one named. Every click is checked for admin rights
again on our side, and recorded in the audit log."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord

from bot import replies
from bot.formatting import ANSWER_COLOUR, escape, fit
from bot.permissions import actor_of, is_server_admin
from briefings.commands import drop_command, merge_command
from briefings.discovery import Proposal
from tradetalk.errors import TradeTalkError

if TYPE_CHECKING:
    from briefings import IssueBriefings

log = logging.getLogger(__name__)

ACTIONS = ("accept", "rename", "merge", "drop", "next")
EXAMPLE_MAX = 300
NO_PROPOSALS = "No new issues to propose: the catalogue already covers the recurring subjects."
NOT_ADMIN = "Only server admins (Manage Server) can review proposed issues."


def proposal_embed(proposal: Proposal, number: int, total: int, note: str = "") -> discord.Embed:
    """One proposal: its name, aliases, reach and a few of the sentences it comes from."""
    lines = [note, ""] if note else []
    lines.append(f"**{fit(proposal.title, 100)}** (`{proposal.id}`)")
    lines.append(f"Mentioned in {proposal.article_count} articles.")
    if proposal.aliases:
        lines.append("Also called: " + fit(", ".join(proposal.aliases), 300))
    lines.append("")
    for example in proposal.examples:
        quote = fit(" ".join(example.text.split()), EXAMPLE_MAX)
        lines.append(f"> {quote} ({example.date or 'undated'})")
    embed = discord.Embed(
        title="Proposed issue", description="\n".join(lines)[:4000], colour=ANSWER_COLOUR
    )
    embed.set_footer(text=f"Proposal {number} of {total} · found in the articles")
    return embed


def release(view: discord.ui.View | None) -> None:
    """Stop tracking a sent review view: its buttons are dynamic items, dispatched by custom
    id whatever message they are on, and discord.py would otherwise keep a 15-minute timer
    for every private message's view."""
    if view is not None:
        view.stop()


def review_view(proposal_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ProposalButton(action, proposal_id))
    return view


def _labels(action: str) -> tuple[str, discord.ButtonStyle]:
    return {
        "accept": ("Accept", discord.ButtonStyle.success),
        "rename": ("Rename…", discord.ButtonStyle.primary),
        "merge": ("Merge into…", discord.ButtonStyle.secondary),
        "drop": ("Drop", discord.ButtonStyle.danger),
        "next": ("Next", discord.ButtonStyle.secondary),
    }[action]


async def review_message(
    briefings: IssueBriefings, after: str | None = None, note: str = ""
) -> tuple[str | None, discord.Embed | None, discord.ui.View | None]:
    """What the review shows next: the proposal after `after` (the first if None), under
    `note` (Markdown, already escaped)."""
    proposals = await asyncio.to_thread(briefings.proposals)
    if not proposals:
        return (f"{note}\n{NO_PROPOSALS}".strip(), None, None)
    ids = [p.id for p in proposals]
    position = (ids.index(after) + 1) % len(ids) if after in ids else 0
    proposal = proposals[position]
    embed = proposal_embed(proposal, position + 1, len(proposals), note)
    return None, embed, review_view(proposal.id)


class ProposalButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"tradetalk:proposal:(?P<action>accept|rename|merge|drop|next):(?P<id>[a-z0-9-]+)",
):
    def __init__(self, action: str, proposal_id: str) -> None:
        label, style = _labels(action)
        super().__init__(
            discord.ui.Button(
                style=style, label=label, custom_id=f"tradetalk:proposal:{action}:{proposal_id}"
            )
        )
        self.action = action
        self.proposal_id = proposal_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ProposalButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._act(interaction)
        except TradeTalkError as exc:  # e.g. a proposal gone since the message was shown
            await replies.send(interaction, str(exc), ephemeral=True)
        except Exception as exc:  # a component has no command tree error handler
            await replies.report_failure(interaction, exc)

    async def _act(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        if not await is_server_admin(bot, interaction.user):  # type: ignore[arg-type]
            await replies.send(interaction, NOT_ADMIN, ephemeral=True)
            return
        briefings = await _briefings(interaction)
        if self.action == "rename":
            await interaction.response.send_modal(RenameModal(self.proposal_id))
            return
        if self.action == "merge":
            await interaction.response.send_modal(MergeModal(self.proposal_id))
            return
        await interaction.response.defer()  # updates this message
        note = ""
        if self.action == "accept":
            issue = await asyncio.to_thread(briefings.accept, self.proposal_id)
            title = escape(fit(issue.title, 100))
            note = f"Accepted “{title}” (`{issue.id}`): /issue {issue.id} briefs on it."
            await _audit(interaction, "issue-add", issue.id, issue.title)
        elif self.action == "drop":
            await asyncio.to_thread(drop_command, briefings, self.proposal_id)
            note = f"Dropped `{self.proposal_id}`: it will not be proposed again."
            await _audit(interaction, "issue-drop", self.proposal_id, "")
        content, embed, view = await review_message(briefings, self.proposal_id, note)
        await interaction.edit_original_response(
            content=content, embed=embed, view=view, allowed_mentions=replies.NO_PINGS
        )
        release(view)


class RenameModal(discord.ui.Modal, title="Accept under another name"):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(custom_id=f"tradetalk:proposal-rename:{proposal_id}", timeout=900)
        self.proposal_id = proposal_id
        self.name = discord.ui.TextInput(
            label="Title", custom_id="title", max_length=100, placeholder="e.g. Farm purchases"
        )
        self.add_item(self.name)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        briefings = await _briefings(interaction)
        issue = await asyncio.to_thread(briefings.accept, self.proposal_id, self.name.value)
        await _audit(interaction, "issue-add", issue.id, issue.title)
        await replies.send(
            interaction,
            f"Accepted as “{escape(issue.title)}” (`{issue.id}`): /issue {issue.id} briefs on it.",
            ephemeral=True,
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        if isinstance(error, TradeTalkError):
            await replies.send(interaction, str(error), ephemeral=True)
        else:
            await replies.report_failure(interaction, error)


class MergeModal(discord.ui.Modal, title="Merge into an issue"):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(custom_id=f"tradetalk:proposal-merge:{proposal_id}", timeout=900)
        self.proposal_id = proposal_id
        self.into = discord.ui.TextInput(
            label="Issue to merge into (id or name)", custom_id="into", max_length=100
        )
        self.add_item(self.into)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        briefings = await _briefings(interaction)
        text = await asyncio.to_thread(merge_command, briefings, self.into.value, self.proposal_id)
        await _audit(interaction, "issue-merge", self.into.value, self.proposal_id)
        await replies.send(interaction, escape(text[:1].upper() + text[1:]) + ".", ephemeral=True)

    on_error = RenameModal.on_error


async def _briefings(interaction: discord.Interaction) -> IssueBriefings:
    """The briefings of the server the button or form was used in."""
    libraries = interaction.client.libraries  # type: ignore[attr-defined]
    return await asyncio.to_thread(libraries.briefings, interaction.guild_id)


async def _audit(interaction: discord.Interaction, action: str, target: str, detail: str) -> None:
    audit = interaction.client.libraries.audit(interaction.guild_id)  # type: ignore[attr-defined]
    try:
        await asyncio.to_thread(
            audit.record, actor_of(interaction.user), action, target, "ok", detail
        )
    except OSError:
        log.warning("could not write the audit log", exc_info=True)
