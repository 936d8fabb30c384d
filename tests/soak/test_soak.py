"""Soak: a few thousand questions from twenty members, with ingests, reindexes and removals
along the way, through the real bot and the loopback Discord. Every question is answered
exactly once; after a warm-up, memory stays flat and no task or file descriptor is left behind.

Not in the default run (``-m 'not soak'``). Run it, with its figures printed, with::

    .venv/bin/python -m pytest -m soak tests/soak

``TRADETALK_SOAK_QUESTIONS`` (default 3000, at least 1600) and ``TRADETALK_SOAK_SECONDS``
(default 200, the pace asked for; a slow machine takes longer) make it longer or shorter;
``TRADETALK_SOAK_TRACEMALLOC=1`` also lists what Python allocated after the warm-up and still
holds at the end (it slows everything down).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import random
import shutil
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
import pytest
from e2e.bot_harness import (
    BUNDLED_QUESTION,
    FIXTURE_ARTICLES,
    PRAIRIE_QUESTION,
    UNANSWERABLE,
    LoopbackBot,
    LoopWatch,
    running_bot,
)
from fake_discord import ActionKind, BotAction, FakeDiscord, InteractionHandle, Rejection, Upload
from fake_discord.ratelimits import DISCORD_LIMITS, RateLimiter
from fake_discord.records import EventLog

from config.settings import Settings
from tradetalk.engine import Engine

QUESTIONS = int(os.environ.get("TRADETALK_SOAK_QUESTIONS", "3000"))
SECONDS = float(os.environ.get("TRADETALK_SOAK_SECONDS", "200"))
# Set to show what Python allocated after the warm-up and still holds at the end (slower).
TRACE = bool(os.environ.get("TRADETALK_SOAK_TRACEMALLOC"))

pytestmark = [
    pytest.mark.soak,
    pytest.mark.e2e,
    pytest.mark.model,
    pytest.mark.timeout(int(SECONDS * 4 + 600)),
]

READERS = 20
ROUND = 100  # questions checked (and the fake's records cleared) together
WARM_UP = 0.25  # of the questions: caches fill (discord.py keeps the last 1,000 messages)
MAX_OUTSTANDING = 16  # questions sent but not yet answered
MIB = 1024 * 1024
# After the warm-up, the memory the process holds (its RSS once glibc has handed back the free
# memory it keeps) may grow by this much. Not less: each ingest or reindex embeds a large batch
# in whichever worker thread runs it, and that thread's glibc arena keeps a high-water mark
# (30-80 MiB held, more as plain RSS) until every worker has had one. Plain RSS is printed, not
# bounded. Leaks are caught by the two tighter checks: questions alone (QUESTION_DRIFT_MAX) and
# the write path on its own (test_write_path_holds_no_memory).
HELD_GROWTH_MAX = 128 * MIB
# Over the measured rounds with questions only (no admin step), RSS may move this much in all:
# about 10 KiB per question, so a per-question leak shows even where a step would hide it.
QUESTION_DRIFT_MAX = 16 * MIB
TAIL_ROUNDS = 3  # the run ends with questions alone
MIN_ROUNDS = 16  # room for every admin step in a round of its own, and the tail
SETTLE = 16.0  # seconds for idle keep-alive connections to close before counting
TASK_SLACK = 2
FD_SLACK = 4
POOL = [
    BUNDLED_QUESTION,
    "What did Freeland say after the talks?",
    "What does Canada want to keep in Chapter 19?",
    "What did Kudlow say about milk?",
    "What did Trump say about Canada?",
    "Who is negotiating for the United States?",
    "What is the dispute over dairy about?",
    "When did the talks resume?",
    PRAIRIE_QUESTION,
    "How many vehicles can Canada export before the auto tariffs apply?",
    "What did Mexico agree to?",
    UNANSWERABLE,
    "What is the weather in Lisbon tomorrow?",
]
FOLLOW_UPS = ["and what about dairy?", "what about autos?", "and Mexico?"]


@dataclass
class Sample:
    label: str
    at: float
    rss: int
    tasks: int
    fds: int
    threads: int
    cached_messages: int
    trimmed: int = 0  # RSS once the C allocator has handed free memory back (glibc)


@dataclass
class Round:
    """The questions of one round and every reply the bot made to them."""

    fake: FakeDiscord
    mentions: list[int] = field(default_factory=list)
    slash: list[InteractionHandle] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)  # answer message id -> question
    replies: Counter[tuple[str, int]] = field(default_factory=Counter)
    stray: list[BotAction] = field(default_factory=list)
    admin: set[int] = field(default_factory=set)  # admin interactions, not questions
    _seen: int = 0

    def keys(self) -> list[tuple[str, int]]:
        return [("m", m) for m in self.mentions] + [("i", h.id) for h in self.slash]

    def scan(self) -> None:
        items = self.fake.actions.items
        for action in items[self._seen :]:
            ref = (action.message_reference or {}).get("message_id")
            if action.kind == ActionKind.MESSAGE and ref is not None:
                self.replies["m", ref] += 1
                self.answers[action.message_id or 0] = ref
            elif action.kind == ActionKind.FOLLOWUP and action.interaction_id not in self.admin:
                self.replies["i", action.interaction_id or 0] += 1
            elif action.kind == ActionKind.MESSAGE:
                self.stray.append(action)  # a channel message answering nothing
        self._seen = len(items)

    def outstanding(self) -> int:
        self.scan()
        return sum(1 for key in self.keys() if not self.replies[key])

    def check(self) -> None:
        """Every question answered exactly once; nothing answered that wasn't asked."""
        self.scan()
        keys = self.keys()
        missing = [k for k in keys if not self.replies[k]]
        doubled = [k for k in keys if self.replies[k] > 1]
        unknown = [k for k in self.replies if k not in set(keys)]
        assert not missing, f"{len(missing)} questions never answered: {missing[:5]}"
        assert not doubled, f"answered more than once: {doubled[:5]}"
        assert not unknown and not self.stray, f"replies to nothing asked: {unknown[:5]}"
        failures = [a for a in self.fake.actions.items if "Something went wrong" in a.text]
        assert not failures, failures[0].summary()
        refused = [r for r in self.fake.rejections.items if r.status not in (429,)]
        assert not refused, refused[0].summary()


def forget_history(fake: FakeDiscord) -> None:
    """The fake keeps every request, message and frame for tests to look at; over thousands of
    questions that is the fake's own growth, not the bot's, so it is cleared between rounds."""
    fake.actions = EventLog(BotAction.summary)
    fake.rejections = EventLog(Rejection.summary)
    fake.requests.clear()
    fake.interactions.clear()
    fake.state.messages.clear()
    fake.state.uploads.clear()
    fake.state.reactions.clear()
    fake.gateway.received = EventLog(lambda f: f"op{f.get('op')}")
    if fake.gateway.session is not None:
        fake.gateway.session.history.clear()


@pytest.fixture
async def soak_bot(
    fake_discord: FakeDiscord, real_encoder, bundled_index: Path, tmp_path: Path
) -> AsyncIterator[LoopbackBot]:
    data = tmp_path / "data"
    shutil.copytree(bundled_index, data, symlinks=True)
    # Thirteen answers a second in one channel: Discord would allow one (5 per 5 s). The soak
    # measures the bot over thousands of answers, not the channel's budget, so that is raised;
    # the headers still come with every reply, and discord.py still keeps to them.
    fake_discord.rate_limits = RateLimiter(
        limits=tuple(
            (methods, route, replace(limit, limit=limit.limit * 100))
            for methods, route, limit in DISCORD_LIMITS
        )
    )
    settings = Settings(
        data_dir=data, guild_ids=[fake_discord.guild_id], cooldown_rate=100_000, cooldown_seconds=1
    )
    engine = Engine(settings, encoder=real_encoder)
    await asyncio.to_thread(engine.open)
    async with running_bot(fake_discord, settings, engine) as bot:
        yield bot
    engine.close()


def admin_plan(
    fake: FakeDiscord, bot: LoopbackBot, rounds: int, warm_rounds: int
) -> dict[int, Callable]:
    """What the admin does, and in which round. The warm-up does each kind of work once (an
    ingest, a reindex, a removal: a reindex's peak memory is the process's high-water mark);
    the measured rounds do them all again, so a leak in any of them shows."""

    def ingest(name: str, content_type: str):
        path = FIXTURE_ARTICLES / name

        async def run(round_: Round) -> str:
            upload = Upload(path.name, path.read_bytes(), content_type)
            handle = await fake.send_interaction(
                "ingest", user=fake.admin_id, attachments={"file": upload}
            )
            round_.admin.add(handle.id)
            return (await handle.wait_for(ActionKind.FOLLOWUP, timeout=120)).content

        return run

    async def reindex(round_: Round) -> str:
        handle = await fake.send_interaction("reindex", user=fake.admin_id)
        round_.admin.add(handle.id)
        done = await handle.wait_for(
            ActionKind.EDIT_ORIGINAL,
            timeout=300,
            predicate=lambda a: a.content.startswith("Reindex "),
        )
        return done.content

    async def remove(round_: Round) -> str:
        added = next(a.id for a in bot.libraries.own_articles(fake.guild_id))
        handle = await fake.send_interaction("remove", {"article_id": added}, user=fake.admin_id)
        round_.admin.add(handle.id)
        return (await handle.wait_for(ActionKind.FOLLOWUP, timeout=120)).content

    warm_up = [
        ingest("2018-08-27-capital-wire-us-mexico-preliminary-deal.md", "text/markdown"),
        reindex,
        ingest("2018-10-02-prairie-times-usmca-fine-print.md", "text/markdown"),
        remove,
    ]
    measured = [
        ingest("2018-10-01-bay-street-bulletin-usmca-deal.html", "text/html"),
        reindex,
        ingest("2018-09-01-northern-ledger-week-ends-without-deal.md", "text/markdown"),
        remove,
        reindex,
    ]
    plan: dict[int, Callable] = {}
    measured_end = rounds - TAIL_ROUNDS - 1  # then questions alone
    for steps, first, last in (
        (warm_up, 1, warm_rounds),
        (measured, warm_rounds + 1, measured_end),
    ):
        span = last - first + 1
        for n, step in enumerate(steps):  # spread out, each in a round of its own
            plan[first + span * n // len(steps)] = step
    assert len(plan) == len(warm_up) + len(measured), "too few rounds for the admin steps"
    return plan


def sample(label: str, bot: LoopbackBot, process: psutil.Process) -> Sample:
    return Sample(
        label,
        time.monotonic(),
        process.memory_info().rss,
        len(asyncio.all_tasks()),
        process.num_fds(),
        threading.active_count(),
        len(bot.cached_messages),
    )


def malloc_trim() -> bool:
    """Ask glibc to return freed memory to the system; False where there is no glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


async def quiet(bot: LoopbackBot, process: psutil.Process, label: str, settle: float) -> Sample:
    """A sample taken once the last replies' loose ends settle: event tasks finish, and idle
    keep-alive connections to the fake (aiohttp keeps them 15 s) close with their tasks and
    file descriptors. Also the RSS after a malloc_trim: memory the allocator keeps for reuse
    (per-thread arenas after a big embedding batch) is not memory the bot holds on to."""
    await asyncio.sleep(settle)
    gc.collect()
    taken = sample(label, bot, process)
    if malloc_trim():
        taken.trimmed = process.memory_info().rss
    return taken


@dataclass
class Figures:
    """What the soak measured, printed whether it passed or not."""

    asked: int = 0
    seconds: float = 0.0
    stall: float = 0.0
    peak: int = 0
    samples: list[Sample] = field(default_factory=list)
    trend: list[int] = field(default_factory=list)  # RSS after each round
    admin_rounds: set[int] = field(default_factory=set)
    warm_rounds: int = 0
    admin: list[str] = field(default_factory=list)
    traced: tracemalloc.Snapshot | None = None

    def question_rounds(self) -> list[int]:
        """Measured rounds without an admin step (not the first: the warm-up sample trims)."""
        return [
            n
            for n in range(self.warm_rounds + 2, len(self.trend) + 1)
            if n not in self.admin_rounds
        ]

    def question_drift(self) -> int:
        return sum(self.trend[n - 1] - self.trend[n - 2] for n in self.question_rounds())

    def print(self) -> None:
        mib = MIB
        rate = self.asked / self.seconds if self.seconds else 0.0
        print(
            f"\nsoak: {self.asked:,} questions from {READERS} members in {self.seconds:.0f} s "
            f"({rate:.1f}/s); longest event-loop stall {self.stall * 1000:.0f} ms"
        )
        for outcome in self.admin:
            print(f"  admin: {outcome[:110]}")
        print(
            f"{'':>14} {'RSS MiB':>8} {'trimmed':>8} {'tasks':>6} {'fds':>5} {'threads':>8} "
            f"{'msgs':>6}"
        )
        for s in self.samples:
            print(
                f"{s.label:>14} {s.rss / mib:8.1f} {s.trimmed / mib:8.1f} {s.tasks:6d} "
                f"{s.fds:5d} {s.threads:8d} {s.cached_messages:6d}"
            )
        print(f"{'peak':>14} {self.peak / mib:8.1f}")
        print("RSS after each round (MiB):", " ".join(f"{r / mib:.0f}" for r in self.trend))
        quiet_rounds = self.question_rounds()
        print(
            f"RSS change over the {len(quiet_rounds)} question-only rounds after the warm-up: "
            f"{self.question_drift() / mib:+.1f} MiB"
        )
        if self.traced is not None:
            grown = tracemalloc.take_snapshot().compare_to(self.traced, "traceback")
            tracemalloc.stop()
            for stat in grown[:12]:
                where = " < ".join(str(frame) for frame in stat.traceback[-4:])
                print(f"{stat.size_diff / 1024:9.0f} KiB {stat.count_diff:+7d}  {where}")


async def ask_one(fake: FakeDiscord, current: Round, rng: random.Random, reader: int) -> None:
    """A mention (most), a /ask, or a reply to one of the bot's answers; now and then a vote."""
    roll = rng.random()
    if roll < 0.25:
        current.slash.append(
            await fake.send_interaction("ask", {"question": rng.choice(POOL)}, user=reader)
        )
    elif roll < 0.33 and current.answers:
        # A reply to one of the bot's answers: a follow-up, asked in its context.
        sent = await fake.send_message(
            rng.choice(FOLLOW_UPS),
            author=reader,
            reference_message_id=rng.choice(list(current.answers)),
            reply_ping=False,
        )
        current.mentions.append(int(sent["id"]))
    else:
        sent = await fake.send_message(rng.choice(POOL), author=reader, mentions_bot=True)
        current.mentions.append(int(sent["id"]))
    if roll > 0.97 and current.answers:
        vote = await fake.send_component(
            rng.choice(list(current.answers)),
            rng.choice(["tradetalk:vote:up", "tradetalk:vote:down"]),
            user=reader,
        )
        current.admin.add(vote.id)


async def run_round(
    fake: FakeDiscord,
    current: Round,
    rng: random.Random,
    readers: list[int],
    gap: float,
    admin_step: Callable | None,
) -> str | None:
    """ROUND questions at the pace asked for, then every answer; the admin step's outcome."""
    admin_task = asyncio.create_task(admin_step(current)) if admin_step else None
    for _ in range(ROUND):
        while current.outstanding() >= MAX_OUTSTANDING:
            await asyncio.sleep(0.01)
        await ask_one(fake, current, rng, rng.choice(readers))
        await asyncio.sleep(gap)
    deadline = time.monotonic() + 120
    while current.outstanding():
        assert time.monotonic() < deadline, "answers stopped coming"
        await asyncio.sleep(0.05)
    outcome = await admin_task if admin_task else None
    await asyncio.sleep(0.3)  # a late duplicate would land in this round's records
    current.check()
    return outcome


async def test_soak(fake_discord: FakeDiscord, soak_bot: LoopbackBot, capsys) -> None:
    fake, bot = fake_discord, soak_bot
    rng = random.Random(20180930)
    process = psutil.Process()
    readers = [fake.state.add_user(f"reader-{n}") for n in range(READERS)]
    rounds = max(MIN_ROUNDS, QUESTIONS // ROUND)
    warm_rounds = max(4, round(rounds * WARM_UP))  # one round for each warm-up step
    gap = SECONDS / (rounds * ROUND)
    plan = admin_plan(fake, bot, rounds, warm_rounds)
    figures = Figures(admin_rounds=set(plan), warm_rounds=warm_rounds)

    async def watch_memory() -> None:
        while True:
            figures.peak = max(figures.peak, process.memory_info().rss)
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_memory())
    loop_watch = await LoopWatch(tick=0.05).start()
    figures.samples.append(await quiet(bot, process, "start", 1.0))
    began = time.monotonic()
    try:
        for number in range(1, rounds + 1):
            current = Round(fake)
            outcome = await run_round(fake, current, rng, readers, gap, plan.get(number))
            figures.asked += len(current.keys())
            if outcome is not None:
                figures.admin.append(outcome.splitlines()[0])
                assert outcome.startswith(("Added", "Reindex finished", "Removed")), outcome
            forget_history(fake)
            figures.trend.append(process.memory_info().rss)
            if number == warm_rounds:
                figures.samples.append(await quiet(bot, process, "after warm-up", SETTLE))
                if TRACE:
                    tracemalloc.start(10)
                    figures.traced = tracemalloc.take_snapshot()
        figures.seconds = time.monotonic() - began
        figures.samples.append(await quiet(bot, process, "end", SETTLE))
    finally:
        watcher.cancel()
        figures.stall = await loop_watch.stop()
        figures.seconds = figures.seconds or time.monotonic() - began
        with capsys.disabled():
            figures.print()

    _, warm, end = figures.samples
    assert figures.asked == rounds * ROUND and len(figures.admin) == len(plan)
    held = end.trimmed - warm.trimmed if warm.trimmed else end.rss - warm.rss
    assert held < HELD_GROWTH_MAX, f"held memory grew {held / MIB:.0f} MiB after the warm-up"
    assert len(figures.question_rounds()) > TAIL_ROUNDS
    drift = figures.question_drift()
    assert drift < QUESTION_DRIFT_MAX, f"RSS grew {drift / MIB:.1f} MiB with questions alone"
    assert end.tasks <= warm.tasks + TASK_SLACK, [t.get_coro() for t in asyncio.all_tasks()]
    assert end.fds <= warm.fds + FD_SLACK, (warm.fds, end.fds)
    assert end.threads <= warm.threads + 2, (warm.threads, end.threads)
    assert figures.stall < 1.0  # the gateway heartbeat was never starved


WRITE_CYCLES = int(os.environ.get("TRADETALK_SOAK_WRITE_CYCLES", "20"))
WRITE_WARM_UP = 3
WRITE_DRIFT_MAX = 8 * MIB
WRITTEN = [
    "2018-08-27-capital-wire-us-mexico-preliminary-deal.md",
    "2018-10-02-prairie-times-usmca-fine-print.md",
    "2018-10-01-bay-street-bulletin-usmca-deal.html",
]


def write_cycle(engine: Engine) -> None:
    """What admins do, once each: ingest three articles, reindex, remove them again."""
    for name in WRITTEN:
        engine.ingest_path(FIXTURE_ARTICLES / name)
    engine.rebuild()
    engine.ask(BUNDLED_QUESTION)
    for article in [a for a in engine.articles() if not a.bundled]:
        engine.remove(article.id)


def test_write_path_holds_no_memory(tmp_path: Path, capsys) -> None:
    """Ingest, reindex and remove, over and over, from a pool of worker threads as the bot runs
    them, with the small test encoder so only TradeTalk's own memory is measured: what the
    process holds stays flat after a few cycles (old builds closed, nothing cached per build)."""
    from conftest import HashingEncoder

    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=HashingEncoder())
    engine.open()
    process = psutil.Process()

    def held() -> int:
        gc.collect()
        malloc_trim()
        return process.memory_info().rss

    trend, fds = [], []
    with ThreadPoolExecutor(max_workers=6) as workers:
        for _ in range(WRITE_WARM_UP + WRITE_CYCLES):
            workers.submit(write_cycle, engine).result()
            trend.append(held())
            fds.append(process.num_fds())
    engine.close()
    builds = list(engine.storage.builds.iterdir())
    with capsys.disabled():
        print(
            f"\nwrite path: {WRITE_CYCLES + WRITE_WARM_UP} cycles of 3 ingests, a reindex and "
            f"3 removals; held RSS (MiB): "
            + " ".join(f"{r / MIB:.0f}" for r in trend)
            + f"; open files {fds[0]} -> {fds[-1]}; {len(builds)} builds on disk"
        )
    settled = trend[WRITE_WARM_UP - 1]
    assert max(trend[WRITE_WARM_UP:]) - settled < WRITE_DRIFT_MAX, [round(r / MIB) for r in trend]
    assert max(fds[WRITE_WARM_UP:]) <= fds[WRITE_WARM_UP - 1], fds  # old builds closed
    assert len(builds) <= 3  # old builds are pruned, not kept forever
