"""Asking: mention the bot, reply to one of its answers, use /ask, write in a follow-up thread,
or write to it directly.

In a server, questions read that server's library and the global one, in the channels the
server allows (``/settings``, else ``TRADETALK_CHANNEL_IDS``), mentions and /ask alike. A direct
message needs no mention and reads the global library only. In a thread the bot started for
follow-ups ("Ask a follow-up"), every message is a question, read after the one before it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import formatting, replies
from bot.answer_view import FollowUpButton, PassagesButton, answer_view, shown_sources
from bot.conversation import (
    previous_exchange,
    question_text,
    referenced_message,
    thread_exchange,
)
from bot.feedback_store import AnswerRecord
from bot.suggestions import suggest_question
from tenancy import Libraries
from tenancy.server_settings import EffectiveSettings
from tradetalk.answer import Answer
from tradetalk.errors import TradeTalkError
from tradetalk.follow_ups import Exchange, FollowUp, read_follow_up, without_repeats
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


# Discord's limit on a string option's max_length.
OPTION_LENGTH_MAX = 6000
SUGGESTION = "tradetalk.suggestion"  # Answer.extras: a question to try instead


def _answer(libraries: Libraries, server_id: int | None, follow_up: FollowUp) -> Answer:
    answer = libraries.ask(server_id, follow_up.question, previous=follow_up.previous)
    answer = without_repeats(answer, follow_up)
    if answer.abstained:
        # A question the articles do answer, to try instead (asked for real to be sure).
        suggestion = suggest_question(libraries, server_id, follow_up.question)
        if suggestion:
            answer.extras[SUGGESTION] = suggestion
    return answer


async def answer_question(
    libraries: Libraries, server_id: int | None, follow_up: FollowUp
) -> Answer:
    """The answer from what questions in `server_id` read (None: a direct message, the global
    library), computed in a worker thread so the gateway keeps its heartbeat."""
    return await asyncio.to_thread(_answer, libraries, server_id, follow_up)


def reply_text(answer: Answer) -> str:
    """The plain reply of an answer the articles don't give."""
    suggestion = answer.extras.get(SUGGESTION)
    return formatting.not_covered_text(answer, suggestion if isinstance(suggestion, str) else None)


@contextlib.asynccontextmanager
async def typing_in(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """ "TradeTalk is typing…" while a mention is answered; an answer never waits on it, nor
    fails because Discord refused it."""
    typing = channel.typing()
    try:
        await typing.__aenter__()
    except discord.HTTPException as exc:
        log.info("could not show typing in %s: %s", getattr(channel, "id", "?"), exc)
        yield
        return
    try:
        yield
    finally:
        await typing.__aexit__(None, None, None)


def in_bot_thread(channel: object, bot_id: int) -> bool:
    """A thread the bot started for follow-ups: every message in it is a question."""
    return isinstance(channel, discord.Thread) and channel.owner_id == bot_id


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
        sources=shown_sources(answer),
    )


def can_thread(channel: object) -> bool:
    """Whether "Ask a follow-up" can start a thread on a message here (a server's text
    channel; not a DM, not a thread)."""
    return isinstance(channel, discord.TextChannel)


class Ask(commands.Cog):
    def __init__(self, bot: TradeTalkBot) -> None:
        self.bot = bot
        # Discord's client stops at the longest question the bot accepts, instead of taking
        # 6,000 characters and the bot then refusing them.
        question = self.ask._params["question"]
        question.min_value = 1
        question.max_value = min(bot.settings.max_question_chars, OPTION_LENGTH_MAX)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PassagesButton, FollowUpButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PassagesButton, FollowUpButton)

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
            await self._tell_privately(message, text)

    async def _tell_privately(self, message: discord.Message, text: str) -> None:
        """A failure to answer a message, said to its author only: in a direct message (where
        the question was already private, as a reply). Only if their settings refuse the bot's
        DMs does it go to the channel."""
        if message.guild is not None:
            where = getattr(message.channel, "mention", "a channel")
            try:
                await message.author.send(
                    f"About your question in {where}: {text}", allowed_mentions=replies.NO_PINGS
                )
                return
            except discord.HTTPException as exc:
                log.info(
                    "could not DM user %s (%s); replying in the channel", message.author.id, exc
                )
        try:
            await reply_to(message, text)
        except discord.HTTPException:
            log.exception("could not tell user %s about a failure", message.author.id)

    async def _on_message(self, message: discord.Message, me: discord.ClientUser) -> None:
        # People often pick the bot's own role from the mention list instead of the bot.
        own_role = message.guild.self_role if message.guild else None
        # A DM, and a follow-up thread the bot started, are addressed to it without a mention.
        direct = message.guild is None or in_bot_thread(message.channel, me.id)
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
        thread = message.channel if isinstance(message.channel, discord.Thread) else None
        earlier: Exchange | None = None
        if my_answer is not None:
            earlier = await previous_exchange(self.bot.conversations, my_answer, bot_id)
        elif thread is not None:
            earlier = await thread_exchange(self.bot.conversations, thread, bot_id)
        follow_up = read_follow_up(question, earlier)
        try:
            async with typing_in(message.channel):
                answer = await answer_question(self.bot.libraries, server_id, follow_up)
        except TradeTalkError as exc:  # empty, too long, gibberish: the message says which
            await reply_to(message, str(exc))
            return
        if answer.abstained:
            sent = await reply_to(message, reply_text(answer))
        else:
            view = answer_view(answer, follow_up=can_thread(message.channel))
            sent = await reply_to(message, embed=formatting.answer_embed(answer), view=view)
        thread_id = thread.id if thread is not None else None
        await self._remember(answer, sent, user_id, follow_up, thread_id, server_id)

    async def _remember(
        self,
        answer: Answer,
        sent: discord.Message,
        asker: int,
        follow_up: FollowUp,
        thread_id: int | None,
        server_id: int | None,
    ) -> None:
        shown = tuple(s.text for s in answer.sentences)
        exchange = Exchange(follow_up.standing or answer.question, shown)
        self.bot.conversations.remember(sent.id, exchange, thread_id)
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
        follow_up = read_follow_up(question, None)
        answer = await answer_question(self.bot.libraries, server_id, follow_up)
        if answer.abstained:
            sent = await replies.send(interaction, reply_text(answer))
        else:
            view = answer_view(answer, follow_up=can_thread(interaction.channel))
            sent = await replies.send(interaction, embed=formatting.answer_embed(answer), view=view)
        if sent is not None:
            await self._remember(answer, sent, interaction.user.id, follow_up, None, server_id)


async def setup(bot: TradeTalkBot) -> None:
    await bot.add_cog(Ask(bot))
