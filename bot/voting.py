"""👍/👎 buttons under answers. Their custom ids carry the vote, so one registration handles the
buttons of every answer ever posted, across restarts, without keeping a view per message."""

from __future__ import annotations

import logging
import re

import discord

from bot import replies

log = logging.getLogger(__name__)

VOTES = {"up": 1, "down": -1}
VOTE_EMOJI = {"👍": 1, "👎": -1}


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"tradetalk:vote:(?P<vote>up|down)"
):
    def __init__(self, vote: str) -> None:
        emoji, label = ("👍", "Helpful") if vote == "up" else ("👎", "Not helpful")
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji=emoji,
                label=label,
                custom_id=f"tradetalk:vote:{vote}",
            )
        )
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        return cls(match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            stores = interaction.client.feedback  # type: ignore[attr-defined]
            message_id = interaction.message.id if interaction.message else 0
            # The answer was filed with the server it was given in (a DM's: the global one).
            async with stores.using(interaction.guild_id) as store:
                recorded = await store.vote(message_id, interaction.user.id, VOTES[self.vote])
            if recorded:
                emoji = "👍" if self.vote == "up" else "👎"
                text = f"Thanks, your {emoji} is recorded. It helps us improve the answers."
            else:
                text = "I no longer have that answer on file, so I couldn't record the vote."
            await replies.send(interaction, text, ephemeral=True)
        except Exception as exc:  # a component has no command tree error handler
            await replies.report_failure(interaction, exc)
