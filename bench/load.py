"""Under load: 200 questions from 20 users at once, each user asking its next question when the
previous answer arrives. Through the engine in threads, and through the real bot over the
loopback fake Discord (tests/fake_discord). Compared with one user asking the same questions
one after another."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
    from retrieval.batching import BatchingEncoder
    from tradetalk.engine import Engine

    inner = common.bench_encoder(args.backend, args.model_cache)
    encoder = BatchingEncoder(inner) if args.batching else inner
    engine = Engine(common.bench_settings(data_dir, args.backend, **settings), encoder=encoder)
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
    engine, encoder = _engine(args, args.data_dir / "threads")
    questions = _question_list(args.questions)
    for question in questions[:72]:
        common.ask_once(engine, question)
    single = [common.timed(lambda q=q: common.ask_once(engine, q)) for q in questions]
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
                common.ask_once(engine, question)
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
    return _result("engine in threads", args, single, latencies, wall, failures,
                   _batch_stats(encoder))  # fmt: skip


def _result(
    via: str,
    args: argparse.Namespace,
    single: list[float],
    latencies: list[float],
    wall: float,
    failures: list[str],
    counts: dict,
) -> dict:
    """One load run's figures: the single-question rate against the rate under load."""
    return {
        "via": via,
        "backend": args.backend,
        "batching": bool(args.batching),
        "questions": len(single),
        "users": args.users,
        "answered": len(latencies),
        "failures": failures[:5],
        "single": summary(single),
        "single_rate": round(len(single) / sum(single), 1),
        "load": summary(latencies),
        "rate": round(len(latencies) / wall, 1),
        **counts,
    }


def run_discord(args: argparse.Namespace) -> dict:
    return asyncio.run(_discord(args))


# The bot as `tradetalk run` starts it (`bot.cli_run.serve`, settings from the environment),
# in its own process, so the fake Discord and the bot don't share one event loop and one GIL
# as they do in the tests. Only the URLs are pointed at the fake. On SIGTERM it prints its
# encoder's batch counters as one JSON line; SIGUSR1 zeroes them.
BOT_PROCESS = """
import asyncio, json, os, signal, sys
sys.path[:0] = [{root!r}, {tests!r}]
import discord, yarl
from config.settings import load_settings
from tradetalk.engine import Engine
from bot.cli_run import serve
from e2e.bot_harness import LoopbackBot

discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
settings = load_settings()
engine = Engine(settings, batch_queries=True)  # what serve() builds when given none

def report():
    stats = getattr(engine.encoder, "stats", None)
    counts = {{"model_calls": stats.batches, "requests": stats.requests,
              "largest_batch": stats.largest}} if stats else {{}}
    print(json.dumps(counts), flush=True)
    os._exit(0)

def reset():
    stats = getattr(engine.encoder, "stats", None)
    if stats:
        stats.__init__()

async def main():
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, report)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, reset)
    await serve(settings, engine=engine, bot_class=LoopbackBot, guild_ready_timeout=0.05)

asyncio.run(main())
"""


async def _bot_process(args: argparse.Namespace, fake, data_dir: Path):
    import json
    import os
    import signal

    env = {
        **os.environ,
        "TRADETALK_DATA_DIR": str(data_dir),
        "TRADETALK_BACKEND": args.backend,
        "TRADETALK_MODEL_CACHE_DIR": str(args.model_cache),
        "TRADETALK_DISCORD_TOKEN": fake.token,
        "TRADETALK_GUILD_IDS": str(fake.guild_id),
        "TRADETALK_COOLDOWN_RATE": "100000",
        "TRADETALK_COOLDOWN_SECONDS": "1",
        "TRADETALK_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
    }
    script = BOT_PROCESS.format(root=str(common.ROOT), tests=str(common.ROOT / "tests"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, fake.api_url, fake.gateway_url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    # Commands are synced before the gateway connects: wait for both, as the bot is ready.
    while fake.state.commands.find("ask", fake.guild_id) is None or fake.gateway.session is None:
        if process.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError("the bot process did not come up")
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # READY handled

    def reset() -> None:
        process.send_signal(signal.SIGUSR1)

    async def stop() -> dict:
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        await asyncio.wait_for(process.wait(), 30)
        return json.loads(line or b"{}")

    return reset, stop


async def _discord(args: argparse.Namespace) -> dict:
    tests = common.ROOT / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    from e2e.bot_harness import running_bot
    from fake_discord import FakeDiscord

    questions = _question_list(args.questions)
    data_dir = Path(tempfile.mkdtemp(dir=args.data_dir))
    async with FakeDiscord() as fake, contextlib.AsyncExitStack() as stack:
        users = [fake.state.add_user(f"user{n}") for n in range(args.users)]
        if args.bot_process:
            reset, stop = await _bot_process(args, fake, data_dir)
            engine = encoder = None
        else:
            settings = dict(guild_ids=[fake.guild_id], cooldown_rate=100_000, cooldown_seconds=1.0)
            engine, encoder = await asyncio.to_thread(_engine, args, data_dir, **settings)
            await stack.enter_async_context(running_bot(fake, engine.settings, engine))

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
        if args.bot_process:
            reset()
            await asyncio.sleep(0.2)
        elif hasattr(encoder, "stats"):
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
        if args.bot_process:
            counts = await stop()
        else:
            counts = _batch_stats(encoder)
    if engine is not None:
        engine.close()
    latencies = [t for times in per_user for t in times]
    via = "Discord (fake in-process with the bot)"
    if args.bot_process:
        via = "Discord (bot in its own process, as `tradetalk run`)"
    return _result(via, args, single, latencies, wall, failures, counts)
