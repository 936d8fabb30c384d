"""Which question an answer was for, so a reply to it ("and what about dairy?") can be asked in
context. A bounded in-memory map from the bot's message ids, falling back to reading the reply
chain from Discord when the answer is older than the map (or from before a restart)."""

from __future__ import annotations

import re
from collections import OrderedDict

import discord

from tradetalk.questions import is_follow_up

MAX_REMEMBERED = 2000
MAX_CONTEXT_CHARS = 600


def question_text(content: str, bot_id: int, bot_role_id: int | None = None) -> str:
    """The question in a message, without the mentions of the bot that addressed it."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    if bot_role_id is not None:
        text = text.replace(f"<@&{bot_role_id}>", " ")
    return " ".join(text.split())


def context_of(question: str, previous: str | None) -> str:
    """What a later follow-up should be read against: the question itself, or, when it leans on
    the one before ("and dairy?"), both together, capped from the start so chains stay short."""
    if not previous or not is_follow_up(question):
        return question
    combined = f"{previous} {question}"
    if len(combined) <= MAX_CONTEXT_CHARS:
        return combined
    tail = combined[-MAX_CONTEXT_CHARS:]
    return tail.split(" ", 1)[-1]  # start on a whole word


class ConversationMemory:
    """The context of the last answers (by message id) and of each thread, least recent first
    out."""

    def __init__(self, max_items: int = MAX_REMEMBERED) -> None:
        self.max_items = max_items
        self._by_message: OrderedDict[int, str] = OrderedDict()
        self._by_thread: OrderedDict[int, str] = OrderedDict()

    def remember(self, message_id: int, context: str, thread_id: int | None = None) -> None:
        for store, key in ((self._by_message, message_id), (self._by_thread, thread_id)):
            if key is None:
                continue
            store[key] = context
            store.move_to_end(key)
            while len(store) > self.max_items:
                store.popitem(last=False)

    def for_message(self, message_id: int) -> str | None:
        return self._by_message.get(message_id)

    def for_thread(self, thread_id: int) -> str | None:
        return self._by_thread.get(thread_id)

    def forget_all(self) -> None:
        self._by_message.clear()
        self._by_thread.clear()


async def referenced_message(message: discord.Message) -> discord.Message | None:
    """The message ``message`` replies to, from the gateway payload or fetched; None if it is
    not a reply or the message is gone."""
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if isinstance(ref.resolved, discord.DeletedReferencedMessage):
        return None
    if ref.channel_id != message.channel.id:
        return None
    try:
        return await message.channel.fetch_message(ref.message_id)
    except (discord.NotFound, discord.Forbidden):
        return None


async def previous_question(
    memory: ConversationMemory, answer: discord.Message, bot_id: int
) -> str | None:
    """The question the bot's ``answer`` message was for: from memory, else from the message
    that answer replied to (one fetch at most)."""
    remembered = memory.for_message(answer.id)
    if remembered is not None:
        return remembered
    asked = await referenced_message(answer)
    if asked is None or asked.author.id == bot_id:
        return None
    return question_text(asked.content, bot_id) or None
