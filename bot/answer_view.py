"""The buttons under an answer: "Show passages" (the quoted paragraphs, privately), "Ask a
follow-up" (a thread on the answer, where every message is read in its context), 👍/👎, and a
link button to each cited article.

The button ids carry no state: a click finds the answer by its message id (the passages in the
feedback store, the question in the conversation memory or on the message), so one
registration serves every answer ever posted, across restarts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot import formatting, replies
from bot.conversation import asked_in
from bot.feedback_store import ShownSource
from bot.voting import VoteButton
from tradetalk.answer import Answer
from tradetalk.follow_ups import Exchange
from tradetalk.render import paragraph_label

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)

LINK_BUTTONS = 5  # one row of them
LINK_LABEL_MAX = 80  # Discord's button label limit
LINK_URL_MAX = 512  # Discord's link button url limit
THREAD_NAME_MAX = 100
THREAD_ARCHIVE_MINUTES = 1440
ALREADY_A_THREAD = 160004  # Discord: a thread was already started on this message

PASSAGES_ID = "tradetalk:passages"
FOLLOW_UP_ID = "tradetalk:followup"
NO_PASSAGES = "I no longer have the passages of that answer on file; ask again to see them."
FOLLOW_UP_HERE = (
    "Ask your follow-up here: I answer every message in this thread, each in the context of "
    "the one before, starting from “{question}”."
)
NO_THREAD_HERE = (
    "Reply to my answer to ask a follow-up here (threads can't be started in this channel)."
)


def shown_sources(answer: Answer) -> tuple[ShownSource, ...]:
    """What "Show passages" shows: each cited article and the passages quoted from it."""
    return tuple(
        ShownSource(c.number, c.title, c.source, c.date, c.url, c.paragraphs, c.quotes)
        for c in answer.citations
    )


def link_buttons(answer: Answer) -> list[discord.ui.Button]:
    """A link button per cited article with a plain http(s) address, at most one row."""
    buttons = []
    for citation in answer.citations:
        url = formatting.safe_url(citation.url)
        if url is None or len(url) > LINK_URL_MAX:
            continue
        label = formatting.trim(f"[{citation.number}] {citation.source}", LINK_LABEL_MAX)
        buttons.append(discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=url))
        if len(buttons) == LINK_BUTTONS:
            break
    return buttons


def answer_view(answer: Answer, *, follow_up: bool) -> discord.ui.View:
    """The buttons for an answer; `follow_up` adds "Ask a follow-up" (a text channel of a
    server: threads can't be started in a DM or inside a thread)."""
    view = discord.ui.View(timeout=None)
    view.add_item(PassagesButton())
    if follow_up:
        view.add_item(FollowUpButton())
    view.add_item(VoteButton("up"))
    view.add_item(VoteButton("down"))
    for button in link_buttons(answer):
        button.row = 1
        view.add_item(button)
    return view


def passages_embed(sources: Sequence[ShownSource]) -> discord.Embed:
    """The passages behind an answer, one block per article: its linked title, outlet, date
    and paragraphs, then the passages quoted, sharing the description's room."""
    heads = []
    for s in sources:
        where = ", ".join(paragraph_label(n) for n in s.paragraphs)
        head = f"**[{s.number}]** " + formatting.source_line(s.title, s.source, s.date, s.url)
        heads.append(head + (f" · {where}" if where else ""))
    heads = [formatting.trim(h, 900) if len(h) > 900 else h for h in heads]
    quotes = [" … ".join(" ".join(q.split()) for q in s.quotes) for s in sources]
    room = formatting.DESCRIPTION_MAX - sum(len(h) + 4 for h in heads) - 10
    budgets = formatting.shares([len(formatting.escape(q)) for q in quotes], room)
    blocks = [
        f"{head}\n> {formatting.fit(quote, budget)}" if budget > 20 else head
        for head, quote, budget in zip(heads, quotes, budgets, strict=True)
    ]
    embed = discord.Embed(
        title="Passages quoted in this answer",
        description=formatting.lines_that_fit(blocks, formatting.DESCRIPTION_MAX),
        colour=formatting.ANSWER_COLOUR,
    )
    embed.set_footer(text="Only you can see this · the full articles are one click away")
    return embed


def _thread_name(question: str) -> str:
    name = " ".join(question.split()) or "Follow-up"
    return formatting.trim(name, THREAD_NAME_MAX)


class PassagesButton(discord.ui.DynamicItem[discord.ui.Button], template=re.escape(PASSAGES_ID)):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.primary,
                emoji="📄",
                label="Show passages",
                custom_id=PASSAGES_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> PassagesButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            bot: TradeTalkBot = interaction.client  # type: ignore[assignment]
            message_id = interaction.message.id if interaction.message else 0
            async with bot.feedback.using(interaction.guild_id) as store:
                sources = await store.sources(message_id)
            if not sources:
                await replies.send(interaction, NO_PASSAGES, ephemeral=True)
                return
            view = discord.ui.View(timeout=None)
            for button in _source_links(sources):
                view.add_item(button)
            await replies.send(
                interaction, embed=passages_embed(sources), view=view, ephemeral=True
            )
            # Links only: nothing to dispatch, and discord.py would otherwise keep a
            # 15-minute timer for the private message's view.
            view.stop()
        except Exception as exc:  # a component has no command tree error handler
            await replies.report_failure(interaction, exc)


def _source_links(sources: Sequence[ShownSource]) -> list[discord.ui.Button]:
    buttons = []
    for s in sources:
        url = formatting.safe_url(s.url)
        if url is None or len(url) > LINK_URL_MAX:
            continue
        label = formatting.trim(f"[{s.number}] {s.title}", LINK_LABEL_MAX)
        buttons.append(discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=url))
    return buttons[:LINK_BUTTONS]


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button], template=re.escape(FOLLOW_UP_ID)):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="💬",
                label="Ask a follow-up",
                custom_id=FOLLOW_UP_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> FollowUpButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._open_thread(interaction)
        except Exception as exc:  # a component has no command tree error handler
            await replies.report_failure(interaction, exc)

    async def _open_thread(self, interaction: discord.Interaction) -> None:
        bot: TradeTalkBot = interaction.client  # type: ignore[assignment]
        message, channel = interaction.message, interaction.channel
        if message is None or not isinstance(channel, discord.TextChannel):
            await replies.send(interaction, NO_THREAD_HERE, ephemeral=True)
            return
        exchange = bot.conversations.for_message(message.id)
        question = exchange.question if exchange else (asked_in(message) or "")
        thread = channel.guild.get_thread(message.id)
        created = False
        if thread is None:
            try:
                thread = await message.create_thread(
                    name=_thread_name(question), auto_archive_duration=THREAD_ARCHIVE_MINUTES
                )
                created = True
            except discord.HTTPException as exc:
                if exc.code != ALREADY_A_THREAD:  # e.g. no Create Public Threads here
                    log.warning("could not start a follow-up thread: %s", exc)
                    await replies.send(interaction, NO_THREAD_HERE, ephemeral=True)
                    return
                thread = await channel.guild.fetch_channel(message.id)  # type: ignore[assignment]
        assert isinstance(thread, discord.Thread)
        if exchange is None and question:
            exchange = Exchange(question)
        if exchange is not None and bot.conversations.for_thread(thread.id) is None:
            bot.conversations.remember_thread(thread.id, exchange)
        if created:
            intro = FOLLOW_UP_HERE.format(question=formatting.fit(question or "my answer", 300))
            await thread.send(intro, allowed_mentions=replies.NO_PINGS)
        await replies.send(interaction, f"Ask your follow-up in {thread.mention}.", ephemeral=True)
