"""Asking: mention the bot, reply to one of its answers, use /ask, or write to it directly.

In a server, questions read that server's library and the global one, in the channels the
server allows (``/settings``, else ``TRADETALK_CHANNEL_IDS``), mentions and /ask alike. A direct
message needs no mention and reads the global library only."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.conversation import (
    context_of,
    previous_question,
    question_text,
    referenced_message,
)
from bot.feedback_store import AnswerRecord
from bot.voting import vote_view
from tenancy import Libraries
from tenancy.server_settings import EffectiveSettings
from tradetalk.answer import Answer
from tradetalk.errors import TradeTalkError
from tradetalk.questions import check_question

if TYPE_CHECKING:
    from bot.client import TradeTalkBot

log = logging.getLogger(__name__)

HELP_TEXT = (
    "Ask me about the trade talks in the articles I have, e.g. "
    "`@TradeTalk what is blocking the deal?` — `/about` says what I cover."
)


# discord.py retries a 500, 502 or 504 itself but gives up on a 503, which Discord's edge answers
# while the API is briefly unavailable (the message was not created).
RETRIED_STATUSES = frozenset({503})
RETRY_DELAY = 1.0


async def reply_to(
    message: discord.Message, content: str | None = None, **kwargs: Any
) -> discord.Message:
    """``message.reply`` pinging nobody, tried once more after a 503."""
    kwargs.setdefault("allowed_mentions", replies.NO_PINGS)
    try:
        return await message.reply(content, **kwargs)
    except discord.DiscordServerError as exc:
        if exc.status not in RETRIED_STATUSES:
            raise
        log.warning(
            "Discord answered %s to a reply to message %s; trying again", exc.status, message.id
        )
    await asyncio.sleep(RETRY_DELAY)
    return await message.reply(content, **kwargs)


async def answer_question(
    libraries: Libraries, server_id: int | None, question: str, previous: str | None
) -> Answer:
    """The answer from what questions in `server_id` read (None: a direct message, the global
    library), computed in a worker thread so the gateway keeps its heartbeat."""
    return await asyncio.to_thread(libraries.ask, server_id, question, previous=previous)


def may_answer_in(channel: object, allowed: frozenset[int]) -> bool:
    """Whether a server's channel settings let the bot answer in `channel` (empty: all);
    a thread counts as the channel it is in."""
    if not allowed:
        return True
    parent = getattr(channel, "parent_id", None)
    return getattr(channel, "id", None) in allowed or parent in allowed


def answer_record(answer: Answer, message: discord.Message, asker: int) -> AnswerRecord:
    return AnswerRecord(
        message_id=message.id,
        channel_id=message.channel.id,
        user_id=asker,
        question=answer.question,
        answer=answer.text,
        passages=tuple(hit.record.id for hit in answer.hits),
        abstained=answer.abstained,
    )


class Ask(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot

    # -- mentions and replies -------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        try:
            await self._on_message(message, me)
        except Exception as exc:
            text = replies.describe_failure(exc, where=f"a question from user {message.author.id}")
            try:
                await reply_to(message, text)
            except discord.HTTPException:
                log.exception("could not tell user %s about a failure", message.author.id)

    async def _on_message(self, message: discord.Message, me: discord.ClientUser) -> None:
        # People often pick the bot's own role from the mention list instead of the bot.
        own_role = message.guild.self_role if message.guild else None
        direct = message.guild is None  # a DM is addressed to the bot without a mention
        mentioned = me in message.mentions or (
            own_role is not None and own_role in message.role_mentions
        )
        if not (direct or mentioned or message.reference):
            return
        server_id = message.guild.id if message.guild else None
        settings = await self.bot.server_settings(server_id)
        if server_id is not None and not may_answer_in(message.channel, settings.channel_ids):
            return
        replied_to = await referenced_message(message) if message.reference else None
        my_answer = replied_to if replied_to is not None and replied_to.author.id == me.id else None
        if direct or mentioned or my_answer is not None:
            await self._answer_message(
                message, my_answer, own_role.id if own_role else None, server_id, settings
            )

    async def _answer_message(
        self,
        message: discord.Message,
        my_answer: discord.Message | None,
        role_id: int | None,
        server_id: int | None,
        settings: EffectiveSettings,
    ) -> None:
        bot_id = self.bot.user.id if self.bot.user else 0
        question = question_text(message.content, bot_id, role_id)
        if not question:
            await reply_to(message, HELP_TEXT)
            return
        user_id = message.author.id
        wait = self.bot.cooldown.retry_after(
            user_id,
            server_id=server_id,
            rate=settings.cooldown_rate,
            per=settings.cooldown_seconds,
        )
        if wait is not None:
            # A channel message can't be private: say it once per wait, then stay quiet.
            if self.bot.cooldown.first_refusal(user_id, wait, server_id):
                await reply_to(message, formatting.cooldown_text(wait))
            return
        thread_id = message.channel.id if isinstance(message.channel, discord.Thread) else None
        previous = None
        if my_answer is not None:
            previous = await previous_question(self.bot.conversations, my_answer, bot_id)
        elif thread_id is not None:
            previous = self.bot.conversations.for_thread(thread_id)
        try:
            answer = await answer_question(self.bot.libraries, server_id, question, previous)
        except TradeTalkError as exc:  # empty, too long, gibberish: the message says which
            await reply_to(message, str(exc))
            return
        if answer.abstained:
            sent = await reply_to(message, formatting.not_covered_text(answer))
        else:
            sent = await reply_to(message, embed=formatting.answer_embed(answer), view=vote_view())
        await self._remember(answer, sent, user_id, previous, thread_id, server_id)

    async def _remember(
        self,
        answer: Answer,
        sent: discord.Message,
        asker: int,
        previous: str | None,
        thread_id: int | None,
        server_id: int | None,
    ) -> None:
        self.bot.conversations.remember(sent.id, context_of(answer.question, previous), thread_id)
        try:
            async with self.bot.feedback.using(server_id) as store:
                await store.record_answer(answer_record(answer, sent, asker))
        except Exception:
            # The answer is out; failing to file it for feedback is ours to log, not theirs.
            log.exception("could not record answer %s for feedback", sent.id)

    # -- /ask ---------------------------------------------------------------------------------

    @app_commands.command(name="ask", description="Ask a question about the trade-talk articles")
    @app_commands.describe(question="Your question, e.g. What is blocking the deal?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        # Cheap checks first, so their notices can be private (a public defer can't be undone).
        check_question(question, max_chars=self.bot.settings.max_question_chars)
        server_id = interaction.guild_id
        settings = await self.bot.server_settings(server_id)
        if server_id is not None and not may_answer_in(interaction.channel, settings.channel_ids):
            text = formatting.elsewhere_text(sorted(settings.channel_ids))
            await replies.send(interaction, text, ephemeral=True)
            return
        wait = self.bot.cooldown.retry_after(
            interaction.user.id,
            server_id=server_id,
            rate=settings.cooldown_rate,
            per=settings.cooldown_seconds,
        )
        if wait is not None:
            await replies.send(interaction, formatting.cooldown_text(wait), ephemeral=True)
            return
        # If Discord gave up on the interaction already, the answer still goes to the channel.
        await replies.defer(interaction)
        answer = await answer_question(self.bot.libraries, server_id, question, None)
        if answer.abstained:
            sent = await replies.send(interaction, formatting.not_covered_text(answer))
        else:
            sent = await replies.send(
                interaction, embed=formatting.answer_embed(answer), view=vote_view()
            )
        if sent is not None:
            await self._remember(answer, sent, interaction.user.id, None, None, server_id)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Ask(bot))
