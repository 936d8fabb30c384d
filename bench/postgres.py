"""The PostgreSQL figures of issue 20, ratios in one run: ``python -m bench.postgres``.

- answer: the same questions answered from the same articles by a library on the local store
  and one on PostgreSQL (served from this host's cache), interleaved question by question in
  one process; p50 and p99 of each and their ratio (goal ≤ 1.2×).
- fresh: host A (a separate process) ingests articles one at a time; host B (this process)
  asks without pause; how long after A's ingest returned B first answers from the article
  (goal ≤ 2 s); and how long until B's LISTEN thread has fetched the build with no question.
- servers: 1,000 server libraries (synthetic vectors, the production write path) built in a
  local data dir, moved with ``tradetalk migrate --to postgres`` (every article and vector
  checked), then served by two host processes (one shard each: half the servers each) under a
  memory budget: every server asked once, then servers at random; each host's peak RSS
  against its model + budget.

A throwaway PostgreSQL server is started for the run (tests/pg_cluster.py), or
``TRADETALK_BENCH_DATABASE_URL``'s is used. Prints the figures and writes them as JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench import common

TESTS = common.ROOT / "tests"
SERVER_ID_BASE = 10**17


def _cluster():
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from pg_cluster import ThrowawayPostgres

    return ThrowawayPostgres().start()


def answer_ratio(args: argparse.Namespace, url: str, work: Path) -> dict:
    """Questions asked as the bot and the CLI ask them (`tenancy.Libraries.ask`, the global
    library), one library on each store, interleaved question by question."""
    from corpus.articles import read_article
    from retrieval.search import prepare_query
    from storage.postgres.backend import close_backends
    from tenancy import Libraries

    encoder = common.bench_encoder(args.backend, args.model_cache)
    articles = [
        read_article(p, max_bytes=2_000_000) for p in sorted(common.FIXTURE_ARTICLES.glob("*.md"))
    ]
    libraries = {}
    for kind, extra in (("local", {}), ("postgres", {"database_url": url})):
        settings = common.bench_settings(work / f"answer-{kind}", args.backend, **extra)
        library = Libraries(settings, encoder=encoder)
        library.open()
        library.ingest_articles(None, articles)
        libraries[kind] = library
    questions = common.questions()

    def ask(library, question: str) -> None:
        from tradetalk.errors import QuestionError

        with contextlib.suppress(QuestionError):  # a refused question is an answer too
            library.ask(None, question)

    for question in questions:  # warm both
        for library in libraries.values():
            ask(library, question)
    times: dict[str, list[float]] = {"local": [], "postgres": [], "floor": []}
    for round_ in range(args.rounds):
        for n, question in enumerate(common.shuffled(questions, round_)):
            text = prepare_query(question)
            times["floor"].append(common.timed(lambda t=text: encoder.encode([t])))
            order = ("local", "postgres") if n % 2 == 0 else ("postgres", "local")
            for kind in order:
                library = libraries[kind]
                times[kind].append(common.timed(lambda lib=library, q=question: ask(lib, q)))
    passages = len(libraries["local"].global_engine.index)
    for library in libraries.values():
        library.close()
    close_backends()
    local, pg = common.summary(times["local"]), common.summary(times["postgres"])
    return {
        "passages": passages,
        "floor": common.summary(times["floor"]),
        "local": local,
        "postgres": pg,
        "p50_ratio": round(pg["p50_ms"] / local["p50_ms"], 3),
        "p99_ratio": round(pg["p99_ms"] / local["p99_ms"], 3),
    }


HOST_A = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{root!r}]
    from pathlib import Path
    from corpus.articles import read_article
    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from tradetalk.engine import Engine

    encoder = load_encoder(backend={backend!r}, cache_dir=Path({cache!r}))
    engine = Engine(Settings(_env_file=None, data_dir={data!r}, database_url={url!r},
                             backend={backend!r}), encoder=encoder)
    engine.open()
    print("ready", flush=True)
    for path in sys.argv[1:]:
        sys.stdin.readline()
        result = engine.ingest_article(read_article(Path(path), max_bytes=2_000_000))
        print("ingested", result.article.id, time.time(), flush=True)
    """
)


def freshness(args: argparse.Namespace, url: str, work: Path) -> dict:
    from storage.postgres.backend import close_backends
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    directory = work / "fresh-articles"
    directory.mkdir(parents=True, exist_ok=True)
    from bench.synthetic import write_news_articles

    write_news_articles(directory, args.fresh, seed=21)
    paths = sorted(directory.glob("*.md"))[: args.fresh]
    b = Engine(
        common.bench_settings(work / "host-b", args.backend, database_url=url), encoder=encoder
    )
    b.open()
    script = HOST_A.format(
        root=str(common.ROOT), backend=args.backend, cache=str(args.model_cache),
        data=str(work / "host-a"), url=url,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    process = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, paths)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline().strip() == "ready"
    by_question, by_listen = [], []
    for n in range(len(paths)):
        process.stdin.write("go\n")
        process.stdin.flush()
        _, article_id, returned = process.stdout.readline().split()
        if n % 2 == 0:  # B asks without pause: the generation check before each question
            while article_id not in {a.id for a in b.articles()}:
                time.sleep(0.01)
            by_question.append(time.time() - float(returned))
        else:  # nobody asks: the NOTIFY makes B's listener fetch the build into its cache
            name = b.store.current_name()
            while b.storage.current_name() != name:
                time.sleep(0.01)
            by_listen.append(time.time() - float(returned))
            assert article_id in {a.id for a in b.articles()}
    process.wait(timeout=60)
    b.close()
    close_backends()
    return {
        "articles": len(paths),
        "answerable_on_b_after_ingest_s": [round(x, 3) for x in by_question],
        "fetched_by_listen_after_ingest_s": [round(x, 3) for x in by_listen],
        "max_s": round(max(by_question + by_listen), 3),
    }


def build_servers(args: argparse.Namespace, data: Path) -> dict:
    from bench.synthetic import SyntheticCorpus, TextGenerator, synthetic_data
    from retrieval.storage import IndexStorage
    from tenancy.layout import server_paths
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    engine = Engine(common.bench_settings(data, args.backend), encoder=encoder)
    engine.open()
    model_id, backend = engine.index.manifest.model_id, engine.index.manifest.backend
    engine.close()
    generator = TextGenerator(7)
    started = time.perf_counter()
    passages = sentences = 0
    for n in range(args.servers):
        built = synthetic_data(
            SyntheticCorpus(args.articles * 10, sentences_per_passage=2.0, seed=1000 + n),
            model_id=model_id,
            backend=backend,
            generator=generator,
        )
        passages += len(built.passages)
        sentences += len(built.sentence_vectors)
        IndexStorage(server_paths(data, SERVER_ID_BASE + n).index).publish(built)
    return {
        "servers": args.servers,
        "passages": passages,
        "sentences": sentences,
        "build_s": round(time.perf_counter() - started, 1),
    }


SERVING_HOST = textwrap.dedent(
    """
    import json, random, sys, time
    sys.path[:0] = [{root!r}]
    from pathlib import Path
    import psutil
    from config.settings import Settings
    from retrieval.encoder_loading import load_encoder
    from tenancy import Libraries

    def high_water():
        # VmHWM: this process's own peak. ru_maxrss is not: Linux carries it over from the
        # parent at fork, through exec (the parent's whole build of 1,000 libraries).
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    encoder = load_encoder(backend={backend!r}, cache_dir=Path({cache!r}))
    encoder.encode(["warm up"])
    model_rss = psutil.Process().memory_info().rss / 2**20
    model_peak = high_water()
    settings = Settings(_env_file=None, data_dir={data!r}, database_url={url!r},
                        backend={backend!r}, memory_budget_mb={budget})
    libraries = Libraries(settings, encoder=encoder)
    libraries.open()
    open_peak = high_water()
    servers = {servers!r}
    questions = {questions!r}
    rng = random.Random({seed})
    began = time.perf_counter()
    first = []
    for server in servers:
        t = time.perf_counter()
        libraries.ask(server, rng.choice(questions))
        first.append(time.perf_counter() - t)
        if len(first) == 1:
            first_peak = high_water()
    sweep = time.perf_counter() - began
    mixed = []
    for _ in range({mixed}):
        t = time.perf_counter()
        libraries.ask(rng.choice(servers), rng.choice(questions))
        mixed.append(time.perf_counter() - t)
    first.sort(); mixed.sort()
    print(json.dumps({{
        "servers": len(servers),
        "sweep_s": round(sweep, 1),
        "first_answer_p50_ms": round(1000 * first[len(first) // 2], 1),
        "random_p50_ms": round(1000 * mixed[len(mixed) // 2], 1),
        "loaded": len(libraries.loaded()),
        "loaded_index_mb": round(libraries.loaded_bytes() / 2**20, 1),
        "budget_mb": {budget},
        "rss_model_mb": round(model_rss, 1),
        "rss_peak_after_model_mb": round(model_peak, 1),
        "rss_peak_after_open_mb": round(open_peak, 1),
        "rss_peak_after_first_server_mb": round(first_peak, 1),
        "rss_end_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "rss_peak_mb": round(high_water(), 1),
    }}), flush=True)
    """
)


def serve_two_hosts(args: argparse.Namespace, url: str, work: Path) -> list[dict]:
    ids = [SERVER_ID_BASE + n for n in range(args.servers)]
    halves = [ids[0::2], ids[1::2]]  # as two shards would split them
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    processes = []
    for n, servers in enumerate(halves):
        script = SERVING_HOST.format(
            root=str(common.ROOT), backend=args.backend, cache=str(args.model_cache),
            data=str(work / f"serving-host-{n}"), url=url, budget=args.budget_mb,
            servers=servers, questions=common.questions(), seed=n, mixed=args.mixed,
        )  # fmt: skip
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True
            )
        )
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=7200)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"a serving host failed ({process.returncode})")
        found = json.loads(lines[-1])
        found["rss_peak_over_model_plus_budget"] = round(
            found["rss_peak_mb"] / (found["rss_model_mb"] + found["budget_mb"]), 3
        )
        found["rss_end_over_model_plus_budget"] = round(
            found["rss_end_mb"] / (found["rss_model_mb"] + found["budget_mb"]), 3
        )
        results.append(found)
    return results


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bench.postgres")
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx"])
    parser.add_argument("--only", default="answer,fresh,servers")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fresh", type=int, default=6)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=20, help="per server")
    parser.add_argument("--budget-mb", type=int, default=256)
    parser.add_argument("--mixed", type=int, default=200)
    parser.add_argument("--work", type=Path)
    parser.add_argument(
        "--reuse-servers", action="store_true", help="the servers' data dir of an earlier --work"
    )
    parser.add_argument("--out", type=Path, default=common.ROOT / "bench" / "postgres_run.json")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tradetalk-bench-pg-"))
    args.model_cache = work / "models"
    only = set(args.only.split(","))
    given = os.environ.get("TRADETALK_BENCH_DATABASE_URL")
    cluster = None if given else _cluster()
    result: dict = {"machine": common.machine(), "load_before": common.load_average()}
    started = time.perf_counter()
    try:

        def database() -> str:
            return cluster.create_database() if cluster else str(given)

        if "answer" in only:
            result["answer"] = answer_ratio(args, database(), work)
            print("answer", json.dumps(result["answer"]), flush=True)
        if "fresh" in only:
            result["fresh"] = freshness(args, database(), work)
            print("fresh", json.dumps(result["fresh"]), flush=True)
        if "servers" in only:
            url = database()
            data = work / "servers-data"
            if args.reuse_servers and (data / "servers").is_dir():
                result["servers_build"] = {"reused": str(data), "servers": args.servers}
            else:
                result["servers_build"] = build_servers(args, data)
            print("servers_build", json.dumps(result["servers_build"]), flush=True)
            from cli.migrate import migrate_data_dir

            settings = common.bench_settings(data, args.backend, database_url=url)
            began = time.perf_counter()
            lines = migrate_data_dir(settings)
            result["migrate"] = {
                "libraries": len(lines) - 1,
                "seconds": round(time.perf_counter() - began, 1),
                "last_line": lines[-1],
                "passages": sum(
                    int(x.split(" segments, ")[1].split(" passages")[0].replace(",", ""))
                    for x in lines[:-1]
                ),
            }
            print("migrate", json.dumps(result["migrate"]), flush=True)
            result["serving_hosts"] = serve_two_hosts(args, url, work)
            print("serving_hosts", json.dumps(result["serving_hosts"]), flush=True)
    finally:
        if cluster is not None:
            cluster.destroy()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["load_after"] = common.load_average()
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
