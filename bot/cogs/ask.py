"""Asking: mention the bot, reply to one of its answers, or use /ask."""

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
from tradetalk.answer import Answer
from tradetalk.engine import Engine
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


async def answer_question(engine: Engine, question: str, previous: str | None) -> Answer:
    """The engine's answer, computed in a worker thread so the gateway keeps its heartbeat."""
    return await asyncio.to_thread(engine.ask, question, previous=previous)


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

    def _may_answer_in(self, channel: discord.abc.MessageableChannel) -> bool:
        allowed = self.bot.settings.channel_ids
        if not allowed:
            return True
        parent = getattr(channel, "parent_id", None)  # threads count as their channel
        return channel.id in allowed or parent in allowed

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None or not self._may_answer_in(message.channel):
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
        mentioned = me in message.mentions or (
            own_role is not None and own_role in message.role_mentions
        )
        replied_to = await referenced_message(message) if message.reference else None
        my_answer = replied_to if replied_to is not None and replied_to.author.id == me.id else None
        if mentioned or my_answer is not None:
            await self._answer_message(message, my_answer, own_role.id if own_role else None)

    async def _answer_message(
        self, message: discord.Message, my_answer: discord.Message | None, role_id: int | None
    ) -> None:
        bot_id = self.bot.user.id if self.bot.user else 0
        question = question_text(message.content, bot_id, role_id)
        if not question:
            await reply_to(message, HELP_TEXT)
            return
        wait = self.bot.cooldown.retry_after(message.author.id)
        if wait is not None:
            # A channel message can't be private: say it once per wait, then stay quiet.
            if self.bot.cooldown.first_refusal(message.author.id, wait):
                await reply_to(message, formatting.cooldown_text(wait))
            return
        thread_id = message.channel.id if isinstance(message.channel, discord.Thread) else None
        previous = None
        if my_answer is not None:
            previous = await previous_question(self.bot.conversations, my_answer, bot_id)
        elif thread_id is not None:
            previous = self.bot.conversations.for_thread(thread_id)
        try:
            answer = await answer_question(self.bot.engine, question, previous)
        except TradeTalkError as exc:  # empty, too long, gibberish: the message says which
            await reply_to(message, str(exc))
            return
        if answer.abstained:
            sent = await reply_to(message, formatting.not_covered_text(answer))
        else:
            sent = await reply_to(message, embed=formatting.answer_embed(answer), view=vote_view())
        await self._remember(answer, sent, message.author.id, previous, thread_id)

    async def _remember(
        self,
        answer: Answer,
        sent: discord.Message,
        asker: int,
        previous: str | None,
        thread_id: int | None,
    ) -> None:
        self.bot.conversations.remember(sent.id, context_of(answer.question, previous), thread_id)
        try:
            await self.bot.feedback.record_answer(answer_record(answer, sent, asker))
        except Exception:
            # The answer is out; failing to file it for feedback is ours to log, not theirs.
            log.exception("could not record answer %s for feedback", sent.id)

    # -- /ask ---------------------------------------------------------------------------------

    @app_commands.command(name="ask", description="Ask a question about the trade-talk articles")
    @app_commands.describe(question="Your question, e.g. What is blocking the deal?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        # Cheap checks first, so their notices can be private (a public defer can't be undone).
        check_question(question, max_chars=self.bot.settings.max_question_chars)
        wait = self.bot.cooldown.retry_after(interaction.user.id)
        if wait is not None:
            await replies.send(interaction, formatting.cooldown_text(wait), ephemeral=True)
            return
        # If Discord gave up on the interaction already, the answer still goes to the channel.
        await replies.defer(interaction)
        answer = await answer_question(self.bot.engine, question, None)
        if answer.abstained:
            sent = await replies.send(interaction, formatting.not_covered_text(answer))
        else:
            sent = await replies.send(
                interaction, embed=formatting.answer_embed(answer), view=vote_view()
            )
        if sent is not None:
            await self._remember(answer, sent, interaction.user.id, None, None)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Ask(bot))
