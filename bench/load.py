"""Under load: 200 questions from 20 users at once, each user asking its next question when the
previous answer arrives. Through the engine in threads, and through the real bot over the
loopback fake Discord (tests/fake_discord). Compared with one user asking the same questions
one after another."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common
from bench.common import summary


def _question_list(count: int) -> list[str]:
    pool = common.questions()
    return common.shuffled((pool * (count // len(pool) + 1))[:count], 11)


def _engine(args: argparse.Namespace, data_dir: Path, **settings):
    from bench.child import _encoder, _settings
    from retrieval.batching import BatchingEncoder
    from tradetalk.engine import Engine

    inner = _encoder(args.backend, args.model_cache)
    encoder = BatchingEncoder(inner) if args.batching else inner
    engine = Engine(_settings(data_dir, args.backend, **settings), encoder=encoder)
    engine.open()
    return engine, encoder


def _batch_stats(encoder) -> dict:
    stats = getattr(encoder, "stats", None)
    if stats is None:
        return {}
    return {
        "model_calls": stats.batches,
        "requests": stats.requests,
        "largest_batch": stats.largest,
        "mean_batch": round(stats.requests / max(stats.batches, 1), 2),
    }


def run_threads(args: argparse.Namespace) -> dict:
    from bench.child import _ask

    engine, encoder = _engine(args, args.data_dir / "threads")
    questions = _question_list(args.questions)
    for question in questions[:72]:
        _ask(engine, question)
    single = [common.timed(lambda q=q: _ask(engine, q)) for q in questions]
    if hasattr(encoder, "stats"):
        encoder.stats.__init__()  # count only the concurrent run
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(args.users + 1)

    def user(mine: list[str]) -> None:
        start.wait()
        for question in mine:
            began = time.perf_counter()
            try:
                _ask(engine, question)
            except Exception as exc:  # counted, reported
                with lock:
                    failures.append(repr(exc))
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [
        threading.Thread(target=user, args=(questions[i :: args.users],)) for i in range(args.users)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    engine.close()
    return {
        "via": "engine in threads",
        "backend": args.backend,
        "batching": bool(args.batching),
        "questions": len(questions),
        "users": args.users,
        "answered": len(latencies),
        "failures": failures[:5],
        "single": summary(single),
        "single_rate": round(len(single) / sum(single), 1),
        "load": summary(latencies),
        "rate": round(len(latencies) / wall, 1),
        **_batch_stats(encoder),
    }


def run_discord(args: argparse.Namespace) -> dict:
    return asyncio.run(_discord(args))


async def _discord(args: argparse.Namespace) -> dict:
    tests = common.ROOT / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    from e2e.bot_harness import running_bot
    from fake_discord import FakeDiscord

    questions = _question_list(args.questions)
    data_dir = Path(tempfile.mkdtemp(dir=args.data_dir))
    async with FakeDiscord() as fake:
        settings = dict(guild_ids=[fake.guild_id], cooldown_rate=100_000, cooldown_seconds=1.0)
        engine, encoder = await asyncio.to_thread(_engine, args, data_dir, **settings)
        users = [fake.state.add_user(f"user{n}") for n in range(args.users)]
        async with running_bot(fake, engine.settings, engine):

            async def ask(user_id: int, question: str) -> float:
                began = time.perf_counter()
                sent = await fake.send_message(question, author=user_id, mentions_bot=True)
                await fake.wait_for_message(
                    lambda a, m=int(sent["id"]): bool(
                        a.message_reference and int(a.message_reference["message_id"]) == m
                    ),
                    timeout=120,
                )
                return time.perf_counter() - began

            # One user, one question at a time: the single-question rate through Discord.
            for question in questions[:20]:
                await ask(users[0], question)
            single = [await ask(users[0], q) for q in questions]
            if hasattr(encoder, "stats"):
                encoder.stats.__init__()
            failures: list[str] = []

            async def user(user_id: int, mine: list[str]) -> list[float]:
                times = []
                for question in mine:
                    try:
                        times.append(await ask(user_id, question))
                    except Exception as exc:  # counted, reported
                        failures.append(repr(exc))
                return times

            began = time.perf_counter()
            per_user = await asyncio.gather(
                *(user(u, questions[i :: args.users]) for i, u in enumerate(users))
            )
            wall = time.perf_counter() - began
        engine.close()
    latencies = [t for times in per_user for t in times]
    return {
        "via": "Discord (loopback fake, real bot)",
        "backend": args.backend,
        "batching": bool(args.batching),
        "questions": len(questions),
        "users": args.users,
        "answered": len(latencies),
        "failures": failures[:5],
        "single": summary(single),
        "single_rate": round(len(single) / sum(single), 1),
        "load": summary(latencies),
        "rate": round(len(latencies) / wall, 1),
        **_batch_stats(encoder),
    }
