"""Votes on answers (👍/👎), with the question, answer and passages they were about, in SQLite;
and the sources each answer quoted, for its "Show passages" button."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aiosqlite

log = logging.getLogger(__name__)

FILE_NAME = "feedback.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    message_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    passages TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shown_sources (
    message_id INTEGER PRIMARY KEY REFERENCES answers(message_id),
    sources TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    message_id INTEGER NOT NULL REFERENCES answers(message_id),
    user_id INTEGER NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
"""


@dataclass(frozen=True)
class ShownSource:
    """One article an answer cited, with the passages its sentences were quoted from."""

    number: int
    title: str
    source: str
    date: str | None
    url: str | None
    paragraphs: tuple[int, ...]
    quotes: tuple[str, ...]

    def to_json(self) -> dict:
        return {**self.__dict__, "paragraphs": list(self.paragraphs), "quotes": list(self.quotes)}

    @classmethod
    def from_json(cls, data: dict) -> ShownSource:
        return cls(
            int(data["number"]),
            str(data["title"]),
            str(data["source"]),
            data.get("date"),
            data.get("url"),
            tuple(int(n) for n in data.get("paragraphs") or ()),
            tuple(str(q) for q in data.get("quotes") or ()),
        )


@dataclass(frozen=True)
class AnswerRecord:
    """One answer the bot posted, keyed by its Discord message id."""

    message_id: int
    channel_id: int
    user_id: int  # who asked
    question: str
    answer: str
    passages: tuple[str, ...]  # passage ids, best first
    abstained: bool
    sources: tuple[ShownSource, ...] = ()  # what "Show passages" shows


@dataclass(frozen=True)
class VotedAnswer:
    question: str
    answer: str
    up: int
    down: int


@dataclass(frozen=True)
class FeedbackSummary:
    answers: int
    voted: int
    up: int
    down: int
    worst: tuple[VotedAnswer, ...]  # most 👎 first, then most recent


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class StoreClosed(RuntimeError):
    pass


class FeedbackStore:
    """``async with FeedbackStore(path) as store``; one connection, used from the event loop.

    Operations take a lock that `close` also takes, so closing at shutdown waits for a write in
    progress instead of cutting it in half; after that, writes are skipped with a log line
    (a handler may still be finishing while the bot stops).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> FeedbackStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.executescript(SCHEMA)
        await self._db.commit()
        return self

    async def close(self) -> None:
        async with self._lock:
            if self._db is not None:
                await self._db.close()
                self._db = None

    async def __aenter__(self) -> FeedbackStore:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreClosed("the feedback store is closed")
        return self._db

    async def record_answer(self, record: AnswerRecord) -> None:
        async with self._lock:
            if self._db is None:
                log.warning("feedback store closed; answer %s not recorded", record.message_id)
                return
            await self.db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?,?)",
                (
                    record.message_id,
                    record.channel_id,
                    record.user_id,
                    record.question,
                    record.answer,
                    json.dumps(list(record.passages)),
                    int(record.abstained),
                    _now(),
                ),
            )
            if record.sources:
                await self.db.execute(
                    "INSERT OR REPLACE INTO shown_sources VALUES (?,?)",
                    (record.message_id, json.dumps([s.to_json() for s in record.sources])),
                )
            await self.db.commit()

    async def answer(self, message_id: int) -> AnswerRecord | None:
        async with self._lock:
            return await self._answer(message_id)

    async def _answer(self, message_id: int) -> AnswerRecord | None:
        async with self.db.execute(
            "SELECT message_id, channel_id, user_id, question, answer, passages, abstained "
            "FROM answers WHERE message_id = ?",
            (message_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return AnswerRecord(
            row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), bool(row[6])
        )

    async def sources(self, message_id: int) -> tuple[ShownSource, ...] | None:
        """The sources an answer quoted; None when the answer is not on file."""
        async with (
            self._lock,
            self.db.execute(
                "SELECT sources FROM shown_sources WHERE message_id = ?", (message_id,)
            ) as cursor,
        ):
            row = await cursor.fetchone()
        if row is None:
            return None
        return tuple(ShownSource.from_json(item) for item in json.loads(row[0]))

    async def vote(self, message_id: int, user_id: int, vote: int) -> bool:
        """Record (or change) ``user_id``'s vote, +1 or -1, on an answer. False when the message
        is not an answer we recorded."""
        if vote not in (-1, 1):
            raise ValueError("vote must be +1 or -1")
        async with self._lock:
            if self._db is None:
                log.warning("feedback store closed; vote on %s not recorded", message_id)
                return False
            if await self._answer(message_id) is None:
                return False
            await self.db.execute(
                "INSERT INTO votes VALUES (?,?,?,?) ON CONFLICT (message_id, user_id) "
                "DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (message_id, user_id, vote, _now()),
            )
            await self.db.commit()
            return True

    async def summary(self, worst: int = 5) -> FeedbackSummary:
        async with self._lock:
            return await self._summary(worst)

    async def _summary(self, worst: int) -> FeedbackSummary:
        async with self.db.execute(
            "SELECT (SELECT count(*) FROM answers), count(DISTINCT message_id), "
            "coalesce(sum(vote = 1), 0), coalesce(sum(vote = -1), 0) FROM votes"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        async with self.db.execute(
            "SELECT a.question, a.answer, sum(v.vote = 1), sum(v.vote = -1) "
            "FROM answers a JOIN votes v USING (message_id) GROUP BY a.message_id "
            "HAVING sum(v.vote = -1) > 0 ORDER BY sum(v.vote = -1) DESC, max(v.voted_at) DESC "
            "LIMIT ?",
            (worst,),
        ) as cursor:
            rows = await cursor.fetchall()
        return FeedbackSummary(
            answers=row[0],
            voted=row[1],
            up=row[2],
            down=row[3],
            worst=tuple(VotedAnswer(r[0], r[1], r[2], r[3]) for r in rows),
        )
