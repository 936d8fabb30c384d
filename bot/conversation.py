"""What an answer was about, so a reply to it ("and what about dairy?") or a message in its
follow-up thread is read in context. A bounded in-memory map from the bot's message ids (and
thread ids) to the exchange (`tradetalk.follow_ups.Exchange`: the question as understood, the
sentences shown), falling back to reading Discord when the answer is older than the map or from
before a restart. How the follow-up is then read is `tradetalk.follow_ups.read_follow_up`."""

from __future__ import annotations

import re
from collections import OrderedDict

import discord

from tradetalk.follow_ups import Exchange

MAX_REMEMBERED = 2000


def question_text(content: str, bot_id: int, bot_role_id: int | None = None) -> str:
    """The question in a message, without the mentions of the bot that addressed it."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    if bot_role_id is not None:
        text = text.replace(f"<@&{bot_role_id}>", " ")
    return " ".join(text.split())


class ConversationMemory:
    """The exchange behind the last answers (by message id) and each thread, least recent
    first out."""

    def __init__(self, max_items: int = MAX_REMEMBERED) -> None:
        self.max_items = max_items
        self._by_message: OrderedDict[int, Exchange] = OrderedDict()
        self._by_thread: OrderedDict[int, Exchange] = OrderedDict()

    def remember(self, message_id: int, exchange: Exchange, thread_id: int | None = None) -> None:
        for store, key in ((self._by_message, message_id), (self._by_thread, thread_id)):
            if key is None:
                continue
            store[key] = exchange
            store.move_to_end(key)
            while len(store) > self.max_items:
                store.popitem(last=False)

    def remember_thread(self, thread_id: int, exchange: Exchange) -> None:
        self._by_thread[thread_id] = exchange
        self._by_thread.move_to_end(thread_id)
        while len(self._by_thread) > self.max_items:
            self._by_thread.popitem(last=False)

    def for_message(self, message_id: int) -> Exchange | None:
        return self._by_message.get(message_id)

    def for_thread(self, thread_id: int) -> Exchange | None:
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


_ESCAPES = re.compile(r"\\(.)")


def asked_in(answer: discord.Message) -> str | None:
    """The question an answer of ours shows as its embed's title (escapes undone)."""
    title = answer.embeds[0].title if answer.embeds else None
    if not title:
        return None
    return _ESCAPES.sub(r"\1", title).replace("\u200b", "").strip() or None


async def previous_exchange(
    memory: ConversationMemory, answer: discord.Message, bot_id: int
) -> Exchange | None:
    """The exchange the bot's ``answer`` message closed: from memory, else the question it
    replied to (one fetch at most), else the question its embed shows."""
    remembered = memory.for_message(answer.id)
    if remembered is not None:
        return remembered
    asked = await referenced_message(answer)
    if asked is not None and asked.author.id != bot_id:
        question = question_text(asked.content, bot_id)
        if question:
            return Exchange(question)
    question = asked_in(answer)
    return Exchange(question) if question else None


async def thread_exchange(
    memory: ConversationMemory, thread: discord.Thread, bot_id: int
) -> Exchange | None:
    """The exchange a thread continues: the last one in it, else (after a restart) the answer
    a follow-up thread was started from (a thread started on a message has its id)."""
    remembered = memory.for_thread(thread.id)
    if remembered is not None:
        return remembered
    parent = thread.parent
    if thread.owner_id != bot_id or not isinstance(parent, discord.TextChannel):
        return None
    try:
        starter = await parent.fetch_message(thread.id)
    except discord.HTTPException:
        return None
    if starter.author.id != bot_id:
        return None
    return await previous_exchange(memory, starter, bot_id)
