"""The speed and scale benchmark: ``.venv/bin/python -m bench`` (``--quick`` skips a million).

Every figure is measured in this run, each in a fresh process (`bench.child`), and reported as
a ratio to what the embedding model alone costs on the same machine in the same run. Prints the
table and writes it into docs/PERFORMANCE.md (between the ``bench:`` markers; the analysis
around it is kept), with the raw results in bench/last_run.json. Asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common, report
from bench.common import run_child

BACKENDS = ("torch", "onnx")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 1M-passage runs")
    parser.add_argument("--scales", default="", help="override: comma-separated passage counts")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--merge", action="store_true", help="keep bench/last_run.json's other sections"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated sections: serve,scale,ann,ingest,startup,load,servers",
    )
    parser.add_argument(
        "--servers", type=int, default=1000, help="servers in the servers section (default 1,000)"
    )
    parser.add_argument(
        "--render", action="store_true", help="only re-render bench/last_run.json into the doc"
    )
    args = parser.parse_args(argv)
    if args.render:
        publish(args)
        return
    scales = (
        [int(s) for s in args.scales.split(",") if s]
        if args.scales
        else ([100_000] if args.quick else [100_000, 1_000_000])
    )
    sections = (
        set(args.only.split(","))
        if args.only
        else {"serve", "scale", "ann", "ingest", "startup", "load", "servers"}
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="tradetalk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    raw = common.ROOT / "bench" / "last_run.json"
    results: dict = json.loads(raw.read_text(encoding="utf-8")) if args.merge else {}
    results.setdefault("runs", []).append(
        {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "sections": sorted(sections)}
    )
    results.update(
        machine=common.machine(),
        load_before=common.load_average(),
        started=time.strftime("%Y-%m-%d %H:%M:%S"),
        command="python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    plan = {
        "serve": lambda: {b: serve(b, work, models) for b in BACKENDS},
        "scale": lambda: {str(n): scale(n, work, models) for n in scales},
        "ann": lambda: ann_table(work, models, scales),
        "ingest": lambda: {b: ingest(b, work, models) for b in BACKENDS},
        "startup": lambda: {b: startup(b, work, models) for b in BACKENDS},
        "load": lambda: load(work, models),
        "servers": lambda: servers(work, models, args.servers),
    }
    started = time.perf_counter()
    try:
        say("exporting the ONNX model (once, into the scratch model cache)")
        results["onnx_export"] = onnx_export(models)
        for name, measure in plan.items():
            if name not in sections:
                continue
            try:
                results[name] = measure()
            except Exception as exc:  # one failed section must not lose the others
                say(f"section {name} failed: {exc}")
                results.setdefault("errors", {})[name] = str(exc)[-3000:]
            raw.write_text(json.dumps(results, indent=2), encoding="utf-8")
    finally:
        results["load_after"] = common.load_average()
        results["duration_min"] = round((time.perf_counter() - started) / 60, 1)
        raw.write_text(json.dumps(results, indent=2), encoding="utf-8")
        keep = common.ROOT / "bench" / "profiles"
        keep.mkdir(exist_ok=True)
        for path in work.glob("profile-*.txt"):
            shutil.copy(path, keep / path.name)
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    publish(args)


def publish(args: argparse.Namespace) -> None:
    """Print the tables from bench/last_run.json and write them into docs/PERFORMANCE.md. The
    servers section has a block of its own, so a run of that section alone (``--only
    servers``) leaves the other tables as they are, and a run without it leaves it."""
    results = json.loads((common.ROOT / "bench" / "last_run.json").read_text(encoding="utf-8"))
    keep = common.ROOT / "bench" / "profiles"
    profiles = {p.stem: p.read_text(encoding="utf-8") for p in sorted(keep.glob("profile-*.txt"))}
    doc = common.ROOT / "docs" / "PERFORMANCE.md"
    if any(name in results for name in ("serve", "scale", "ann", "ingest", "startup", "load")):
        text = report.render(results, profiles)
        print(text)
        if not args.no_write:
            report.write(doc, text)
    if "servers" in results:
        text = report.render_servers(results)
        print(text)
        if not args.no_write:
            report.write(doc, text, begin=report.SERVERS_BEGIN, end=report.SERVERS_END)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def servers(work: Path, models: Path, count: int) -> dict:
    """1,000 servers of 20 synthetic articles each, served by one process: under the default
    memory budget (indexes evicted) and under one that holds them all."""
    data_dir = work / "servers"
    say(f"building {count:,} server libraries of 20 synthetic articles each")
    out: dict = {
        "build": run_child(
            [
                *("servers-build", "--backend", "onnx", "--data-dir", str(data_dir)),
                *("--model-cache", str(models), "--servers", str(count)),
            ]
        )
    }
    for budget in (512, 4096):
        say(f"serving {count:,} servers, memory budget {budget} MB")
        out[f"budget_{budget}"] = run_child(
            [
                *("servers-serve", "--backend", "onnx", "--data-dir", str(data_dir)),
                *("--model-cache", str(models), "--servers", str(count)),
                *("--budget-mb", str(budget)),
            ]
        )
    return out


def serve(backend: str, work: Path, models: Path) -> dict:
    say(f"answer latency vs floor, bundled corpus, {backend}")
    return run_child(
        [
            *("serve", "--backend", backend, "--data-dir", str(work / f"serve-{backend}")),
            *("--model-cache", str(models), "--rounds", "3"),
            *("--profile", str(work / f"profile-bundled-{backend}.txt")),
        ]
    )


def ingest(backend: str, work: Path, models: Path) -> dict:
    say(f"ingest throughput, {backend}")
    return run_child(
        [
            *("ingest-throughput", "--backend", backend),
            *("--data-dir", str(work / f"ingest-{backend}"), "--model-cache", str(models)),
            *("--profile", str(work / f"profile-ingest-{backend}.txt")),
        ]
    )


def onnx_export(models: Path) -> dict:
    from retrieval.encoder import default_model_path
    from retrieval.onnx_export import EXPORT_INFO, export_dir_for

    code = (
        "from pathlib import Path; from retrieval.encoder_loading import load_encoder; "
        f"load_encoder(backend='onnx', cache_dir=Path({str(models)!r}))"
    )
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=common.ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(common.ROOT)},
    )
    seconds = time.perf_counter() - began
    info = json.loads((export_dir_for(default_model_path(), models) / EXPORT_INFO).read_text())
    return {"seconds": round(seconds, 1), "check": info.get("check"), "size": info.get("size")}


def scale(passages: int, work: Path, models: Path) -> dict:
    data_dir = work / f"scale-{passages}"
    say(f"building {passages:,} synthetic passages")
    out: dict = {
        "build": run_child(
            [
                "scale-build",
                "--passages",
                str(passages),
                "--data-dir",
                str(data_dir),
                "--model-cache",
                str(models),
            ]
        )
    }
    for backend in BACKENDS:
        say(f"answer latency at {passages:,} passages, {backend}")
        out[f"serve_{backend}"] = run_child(
            [
                "serve",
                "--backend",
                backend,
                "--index-backend",
                "torch",
                "--data-dir",
                str(data_dir),
                "--model-cache",
                str(models),
                "--rounds",
                "3",
                "--profile",
                str(work / f"profile-{passages}-{backend}.txt"),
            ]
        )
    for backend in BACKENDS:
        say(f"one-article ingests at {passages:,} passages, {backend}")
        out[f"ingest_{backend}"] = run_child(
            [
                *("scale-ingest", "--backend", backend, "--index-backend", "torch"),
                *("--data-dir", str(data_dir), "--model-cache", str(models)),
            ]
        )
    shutil.rmtree(data_dir, ignore_errors=True)
    return out


def ann_table(work: Path, models: Path, scales: list[int]) -> list[dict]:
    """Each index kind at each size it is meant for (and its neighbours), plus a harder data
    set (noise 2.0: nearest-neighbour cosines near 0.3) for the approximate ones."""
    from retrieval.dense import HNSW_THRESHOLD, IVF_THRESHOLD

    plan: list[tuple[int, str, float]] = []
    for n in sorted({5_000, HNSW_THRESHOLD, 20_000, IVF_THRESHOLD, *scales}):
        plan.append((n, "flat", 1.5))
    for n in sorted({HNSW_THRESHOLD, 20_000, IVF_THRESHOLD}):
        plan += [(n, "hnsw", 1.5), (n, "hnsw", 2.0)]
    for n in sorted({IVF_THRESHOLD // 2, IVF_THRESHOLD, 2 * IVF_THRESHOLD, *scales}):
        plan += [(n, "ivf", 1.5), (n, "ivf", 2.0)]
    rows = []
    for n, kind, noise in plan:
        say(f"vector index: {kind} over {n:,} (noise {noise})")
        common_args = [
            *("--passages", str(n), "--kind", kind, "--noise", str(noise)),
            *("--data-dir", str(work / "ann"), "--model-cache", str(models)),
        ]
        built = run_child(["ann-build", *common_args])
        rows.append({**built, **run_child(["ann-search", *common_args])})
    return rows


def startup(backend: str, work: Path, models: Path) -> dict:
    """Wall time of a one-shot `tradetalk ask` (index current) against importing
    sentence-transformers alone; median of 5 runs each, alternating."""
    data_dir = work / f"startup-{backend}"
    env = {
        **os.environ,
        "TRADETALK_DATA_DIR": str(data_dir),
        "TRADETALK_BACKEND": backend,
        "HF_HUB_OFFLINE": "1",
    }
    if backend == "onnx":  # the export the engine would make on first use, already made
        shutil.copytree(models, data_dir / "models", dirs_exist_ok=True)
    cli = [str(Path(sys.executable).with_name("tradetalk")), "ask", "What blocks the deal?"]
    subprocess.run(cli, env=env, check=True, capture_output=True)  # first run builds the index
    builds = sorted((data_dir / "index" / "builds").iterdir())
    imports, asks = [], []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import sentence_transformers"],
            env=env,
            check=True,
            capture_output=True,
        )
        imports.append(time.perf_counter() - began)
        began = time.perf_counter()
        done = subprocess.run(cli, env=env, check=True, capture_output=True, text=True)
        asks.append(time.perf_counter() - began)
    rebuilt = sorted((data_dir / "index" / "builds").iterdir()) != builds
    ask_s, import_s = statistics.median(asks), statistics.median(imports)
    return {
        "backend": backend,
        "ask_s": round(ask_s, 2),
        "import_sentence_transformers_s": round(import_s, 2),
        "ratio": round(ask_s / import_s, 2),
        "rebuilt_at_start": rebuilt,
        "answer_starts": done.stdout[:60],
    }


def load(work: Path, models: Path) -> dict:
    out = {}
    for backend in BACKENDS:
        for batching in (0, 1):
            say(f"under load, engine in threads, {backend}, batching={batching}")
            out[f"threads_{backend}_{'batched' if batching else 'plain'}"] = run_child(
                [
                    "load-threads",
                    "--backend",
                    backend,
                    "--batching",
                    str(batching),
                    "--data-dir",
                    str(work / "load"),
                    "--model-cache",
                    str(models),
                ]
            )
    for backend in BACKENDS:
        say(f"under load, through the loopback Discord, {backend}")
        try:
            out[f"discord_{backend}_batched"] = run_child(
                [
                    "load-discord",
                    "--backend",
                    backend,
                    "--batching",
                    "1",
                    "--data-dir",
                    str(work / "load"),
                    "--model-cache",
                    str(models),
                ]
            )
        except RuntimeError as exc:  # the bot is another engineer's, and may be mid-change
            out[f"discord_{backend}_batched"] = {"error": str(exc)[-2000:]}
    for backend in BACKENDS:
        say(f"under load, through the loopback Discord, bot in its own process, {backend}")
        try:
            out[f"process_{backend}_batched"] = run_child(
                [
                    *("load-discord", "--backend", backend, "--batching", "1"),
                    *("--bot-process", "1", "--data-dir", str(work / "load")),
                    *("--model-cache", str(models)),
                ]
            )
        except RuntimeError as exc:
            out[f"process_{backend}_batched"] = {"error": str(exc)[-2000:]}
    return out


if __name__ == "__main__":
    main()
