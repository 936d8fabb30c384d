"""Shared pieces of the benchmark: the fixed questions, timing, memory, the machine, children."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "fixtures" / "eval"
FIXTURE_ARTICLES = ROOT / "tests" / "fixtures" / "articles"
QUESTION_FILES = (EVAL / "seed_questions.jsonl", EVAL / "multi_questions.jsonl")


def questions() -> list[str]:
    """The fixed question set: the development questions of both question files (72)."""
    found = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line)["question"])
    return found


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def summary(seconds: list[float]) -> dict[str, float]:
    """p50/p99/mean in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p99_ms": ms(percentile(seconds, 99)),
        "mean_ms": ms(float(np.mean(seconds)) if seconds else 0.0),
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def shuffled(items: list[str], seed: int) -> list[str]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy


def machine() -> dict[str, str]:
    """CPU, cores, memory, load and library versions, for the report's header."""
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in (
        "torch",
        "sentence-transformers",
        "transformers",
        "onnxruntime",
        "faiss-cpu",
        "bm25s",
        "numpy",
    ):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram_gb": f"{psutil.virtual_memory().total / 2**30:.1f}",
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        **versions,
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_child(args: list[str], *, timeout: float = 7200, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m bench.child ARGS`` in a fresh process (so peak memory and imports don't
    mix between measurements) and return the JSON object it prints last."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.splitlines()[-25:])
        raise RuntimeError(f"bench child {args} failed ({done.returncode}):\n{tail}")
    result = json.loads(lines[-1])
    result.setdefault("child_wall_s", round(time.perf_counter() - started, 1))
    return result


def emit(result: dict) -> None:
    """A child's answer: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


# -- what child processes share (bench.child, bench.load) ---------------------------------


def bench_encoder(backend: str, model_cache: Path):
    """The model of one backend, its ONNX export kept in `model_cache`."""
    from retrieval.encoder_loading import load_encoder

    return load_encoder(backend=backend, cache_dir=model_cache)


def bench_settings(data_dir: Path, backend: str, **extra):
    """`Settings` for a benchmark's data dir."""
    from config.settings import Settings

    return Settings(data_dir=data_dir, backend=backend, **extra)


def ask_once(engine, question: str) -> None:
    """One answer; a question the engine refuses counts as answered."""
    from tradetalk.errors import QuestionError

    with contextlib.suppress(QuestionError):  # a refused question is an answer too
        engine.ask(question)
