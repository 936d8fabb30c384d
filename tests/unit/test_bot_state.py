"""The bot's own small pieces of state: conversation memory, cooldowns, feedback votes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation import ConversationMemory, question_text
from bot.cooldown import QuestionCooldown
from bot.feedback_store import AnswerRecord, FeedbackStore
from tradetalk.follow_ups import Exchange

BOT = 123456789012345678


def test_question_text_drops_only_the_bots_mentions() -> None:
    content = f"<@{BOT}> what about <@!{BOT}> dairy and <@999999999999999999>?"
    assert question_text(content, BOT) == "what about dairy and <@999999999999999999>?"
    assert question_text("<@&42> tariffs?", BOT, bot_role_id=42) == "tariffs?"
    assert question_text(f"<@{BOT}>", BOT) == ""


def test_memory_is_bounded_and_forgets_the_oldest() -> None:
    memory = ConversationMemory(max_items=3)
    for n in range(5):
        memory.remember(n, Exchange(f"q{n}"), thread_id=100 + n)
    asked = [memory.for_message(n) for n in range(5)]
    assert [e.question if e else None for e in asked] == [None, None, "q2", "q3", "q4"]
    assert memory.for_thread(104) == Exchange("q4") and memory.for_thread(100) is None


def test_cooldown_allows_rate_then_says_how_long() -> None:
    cooldown = QuestionCooldown(rate=2, per=60)
    assert cooldown.retry_after(1) is None and cooldown.retry_after(1) is None
    wait = cooldown.retry_after(1)
    assert wait is not None and 0 < wait <= 60
    assert cooldown.retry_after(2) is None  # per member
    assert cooldown.first_refusal(1, wait) and not cooldown.first_refusal(1, wait)


def record(message_id: int, question: str = "What is blocking the deal?") -> AnswerRecord:
    return AnswerRecord(
        message_id,
        channel_id=7,
        user_id=8,
        question=question,
        answer="Dairy.",
        passages=("a#p1", "a#p2"),
        abstained=False,
    )


async def test_votes_are_stored_changed_and_summarised(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    async with FeedbackStore(path) as store:
        await store.record_answer(record(1))
        await store.record_answer(record(2, "and autos?"))
        assert await store.vote(1, 10, 1) and await store.vote(1, 11, -1)
        assert await store.vote(2, 10, -1) and await store.vote(2, 10, -1)  # idempotent
        assert await store.vote(2, 11, 1) and await store.vote(2, 11, -1)  # changed their mind
        assert not await store.vote(3, 10, 1)  # not an answer of ours
        with pytest.raises(ValueError):
            await store.vote(1, 12, 5)
    async with FeedbackStore(path) as reopened:  # it is on disk
        summary = await reopened.summary()
        assert (await reopened.answer(1)) == record(1)
    assert (summary.answers, summary.voted, summary.up, summary.down) == (2, 2, 1, 3)
    assert [w.question for w in summary.worst] == ["and autos?", "What is blocking the deal?"]


async def test_closed_store_skips_late_writes(tmp_path: Path) -> None:
    store = await FeedbackStore(tmp_path / "feedback.sqlite3").open()
    await store.close()
    await store.record_answer(record(1))  # a handler finishing during shutdown: no crash
    assert not await store.vote(1, 10, 1)
