"""The negotiating parties the articles name: /parties list shows them with the names and
officials they were found under; /parties set and /parties drop let a server's admins correct
them (as ``tradetalk party-set`` and ``party-drop`` do), in the server's own catalogue. Every
change is checked for admin rights on our side and recorded in the audit log."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import replies
from bot.formatting import (
    ANSWER_COLOUR,
    CHOICE_NAME_MAX,
    CHOICES_MAX,
    DESCRIPTION_MAX,
    escape,
    fit,
    trim,
)
from bot.permissions import actor_of, admin_only
from briefings import IssueBriefings
from briefings.catalogue import name_key
from briefings.commands import parties_text, party_drop_command, party_set_command
from tradetalk.errors import TradeTalkError

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)
NO_PARTIES = "No negotiating party found in the articles yet."


class Parties(commands.Cog):
    parties_group = app_commands.Group(
        name="parties",
        description="The negotiating parties found in the articles: list or correct them",
        guild_only=True,
    )

    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    async def briefings(self, interaction: discord.Interaction) -> IssueBriefings:
        return await asyncio.to_thread(self.bot.libraries.briefings, interaction.guild_id)

    @parties_group.command(
        name="list", description="The parties found in the articles, with their names and officials"
    )
    async def list_parties(self, interaction: discord.Interaction) -> None:
        await replies.defer(interaction)
        text = await asyncio.to_thread(parties_text, await self.briefings(interaction))
        embed = discord.Embed(
            title="Negotiating parties",
            description=fit(escape(text), DESCRIPTION_MAX, escaped=False) or NO_PARTIES,
            colour=ANSWER_COLOUR,
        )
        embed.set_footer(text="Found in the articles · admins correct them with /parties set")
        await replies.send(interaction, embed=embed)

    @parties_group.command(
        name="set", description="Correct a party: its name, or a name or official for it (admins)"
    )
    @app_commands.describe(
        party="The party (start typing), or a new party's id",
        name="How briefings name it",
        alias="Another name the articles use for it",
        person="One of its officials, as the articles name them",
    )
    @admin_only()
    async def set_party(
        self,
        interaction: discord.Interaction,
        party: app_commands.Range[str, 1, 40],
        name: app_commands.Range[str, 1, 100] | None = None,
        alias: app_commands.Range[str, 1, 100] | None = None,
        person: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        briefings = await self.briefings(interaction)
        text = await self._audited(
            interaction,
            "party-set",
            party,
            name or "",
            lambda: party_set_command(
                briefings, party, name, [alias] if alias else [], [person] if person else []
            ),
        )
        await replies.send(interaction, escape(text), ephemeral=True)

    @parties_group.command(
        name="drop", description="Say a found party is not a negotiating party here (admins)"
    )
    @app_commands.describe(party="The party (start typing)")
    @admin_only()
    async def drop_party(
        self, interaction: discord.Interaction, party: app_commands.Range[str, 1, 40]
    ) -> None:
        if not await replies.defer(interaction, ephemeral=True):
            return
        briefings = await self.briefings(interaction)
        text = await self._audited(
            interaction, "party-drop", party, "", lambda: party_drop_command(briefings, party)
        )
        await replies.send(interaction, escape(text), ephemeral=True)

    @set_party.autocomplete("party")
    @drop_party.autocomplete("party")
    async def party_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        try:
            briefings = await self.briefings(interaction)
            parties = await asyncio.to_thread(lambda: briefings.parties().parties)
        except TradeTalkError as exc:
            log.warning("no party choices for %r: %s", typed[:100], exc)
            return []
        key = name_key(typed)
        choices = []
        for party_id, party in parties.items():
            names = (party_id, party.name, *party.aliases)
            if key and not any(key in name_key(n) for n in names):
                continue
            label = trim(f"{party.name} ({party_id})", CHOICE_NAME_MAX)
            choices.append(app_commands.Choice(name=label, value=party_id))
        return choices[:CHOICES_MAX]

    async def _audited(self, interaction, action: str, target: str, detail: str, run) -> str:
        """Run a change in a thread and record it (or its failure) in the server's audit log."""
        audit = self.bot.libraries.audit(interaction.guild_id)
        try:
            text = await asyncio.to_thread(run)
        except TradeTalkError as exc:
            await self._record(audit, interaction, action, target, "failed", str(exc)[:300])
            raise
        await self._record(audit, interaction, action, target, "ok", detail)
        return text

    @staticmethod
    async def _record(audit, interaction, action, target, outcome, detail) -> None:
        try:
            await asyncio.to_thread(
                audit.record, actor_of(interaction.user), action, target, outcome, detail
            )
        except OSError:
            log.warning("could not write the audit log", exc_info=True)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Parties(bot))
