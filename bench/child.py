"""The benchmark's measurements, each run in its own process by `bench.run` (so that peak memory,
imports and warm caches never mix): ``python -m bench.child COMMAND [options]``. Each prints
one JSON object as its last line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from bench import common
from bench.common import emit, peak_rss_mb, rss_mb, summary

log = logging.getLogger("bench")


class _Relabelled:
    """An encoder that reports another backend. A synthetic build's vectors come from no model
    at all, so either backend's encoder may serve it; without this the engine would rightly
    see an index built "with another backend" and rebuild it from the (bundled) articles."""

    def __init__(self, inner, backend: str) -> None:
        self.inner = inner
        self.backend = backend
        self.model_id = inner.model_id
        self.dimension = inner.dimension

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        return self.inner.encode(texts, batch_size=batch_size)


# -- answer latency against the floor --------------------------------------------------------


def serve(args: argparse.Namespace) -> dict:
    """Open an index (building the bundled one if the data dir is empty), then time the floor
    (raw query encoding) and whole answers, interleaved question by question so that both see
    the same machine load."""
    from retrieval.search import prepare_query
    from tradetalk.engine import Engine

    base_rss = rss_mb()
    started = time.perf_counter()
    encoder = common.bench_encoder(args.backend, args.model_cache)
    encoder.encode(["warm up"])
    model_load_s = time.perf_counter() - started
    model_rss = rss_mb()
    # A synthetic build is labelled with the backend it was made for; any encoder can serve it.
    index_backend = args.index_backend or args.backend
    served_by = encoder if index_backend == args.backend else _Relabelled(encoder, index_backend)
    engine = Engine(common.bench_settings(args.data_dir, index_backend), encoder=served_by)
    open_s = common.timed(engine.open)
    open_rss = rss_mb()
    questions = common.questions()
    for question in questions:  # warm: first touches of every mapped page, caches, allocators
        common.ask_once(engine, question)
        encoder.encode([prepare_query(question)])
    floor, answer = [], []
    for round_ in range(args.rounds):
        for question in common.shuffled(questions, round_):
            text = prepare_query(question)
            floor.append(common.timed(lambda t=text: encoder.encode([t])))
            answer.append(common.timed(lambda q=question: common.ask_once(engine, q)))
    result = {
        "backend": args.backend,
        "passages": len(engine.index),
        "index_kind": engine.index.manifest.index_kind,
        "floor": summary(floor),
        "answer": summary(answer),
        "model_load_s": round(model_load_s, 2),
        "open_s": round(open_s, 2),
        "rss_base_mb": base_rss,
        "rss_model_mb": model_rss,
        "rss_open_mb": open_rss,
        "rss_peak_mb": peak_rss_mb(),
        "rss_end": memory_split(),
        "vector_bytes": _vector_bytes(engine.index),
    }
    if args.profile:
        result["profile"] = _profile(
            lambda: [common.ask_once(engine, q) for q in questions * 2], args.profile
        )
    engine.close()
    return result


def memory_split() -> dict[str, float]:
    """Resident memory now, split: anonymous (the process's own) and file-backed (mapped index
    files: page cache, shared and dropped by the kernel under pressure), in MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _vector_bytes(index) -> dict[str, int]:
    """The vector files of every segment the served build lists."""
    from retrieval.segment import PASSAGE_VECTORS, SENTENCE_VECTORS

    return {
        "passage": sum((s.directory / PASSAGE_VECTORS).stat().st_size for s in index.segments),
        "sentence": sum((s.directory / SENTENCE_VECTORS).stat().st_size for s in index.segments),
    }


def _profile(work: Callable[[], object], path: Path) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    work()
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- synthetic builds at scale ---------------------------------------------------------------


@contextlib.contextmanager
def _stopwatch(owner: object, name: str, totals: dict[str, float]) -> Iterator[None]:
    """Add the time spent in ``owner.name`` to ``totals[name]`` while the block runs."""
    original = getattr(owner, name)
    raw = vars(owner).get(name, original)  # a classmethod stays a classmethod when put back
    key = f"{getattr(owner, '__name__', 'module').rsplit('.', 1)[-1]}.{name}"

    def wrapper(*a, **k):
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, raw)


@contextlib.contextmanager
def _build_phases(totals: dict[str, float]) -> Iterator[None]:
    """Time the parts of writing a segment: vector index, BM25 terms and postings, records,
    checksums."""
    import retrieval.index as index_module
    import retrieval.segment as segment_module

    with contextlib.ExitStack() as stack:
        stack.enter_context(_stopwatch(segment_module.DenseIndex, "build", totals))
        stack.enter_context(_stopwatch(index_module.IndexData, "lexical_tokens", totals))
        stack.enter_context(_stopwatch(index_module.Postings, "build", totals))
        stack.enter_context(_stopwatch(segment_module, "write_records", totals))
        stack.enter_context(_stopwatch(segment_module, "checksum_files", totals))
        yield


def scale_build(args: argparse.Namespace) -> dict:
    """The bundled article (really embedded) plus `passages` synthetic ones, written as one
    build by the production write path."""
    from bench.synthetic import SyntheticCorpus, synthetic_data
    from retrieval.storage import IndexStorage
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    engine = Engine(common.bench_settings(args.data_dir, args.backend), encoder=encoder)
    engine.open()
    base = engine.index.to_data()
    engine.close()
    started = time.perf_counter()
    data = synthetic_data(
        SyntheticCorpus(args.passages, sentences_per_passage=2.0),
        model_id=base.model_id,
        backend=base.backend,
        base=base,
    )
    generate_s = time.perf_counter() - started
    before = rss_mb()
    phases: dict[str, float] = {}
    with _build_phases(phases):
        write_s = common.timed(lambda: IndexStorage(args.data_dir / "index").publish(data))
    return {
        "passages": len(data.passages),
        "sentences": int(data.sentence_ptr[-1]),
        "articles": len(data.articles),
        "generate_s": round(generate_s, 1),
        "write_s": round(write_s, 1),
        "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "rss_before_write_mb": before,
        "rss_peak_mb": peak_rss_mb(),
    }


def scale_ingest(args: argparse.Namespace) -> dict:
    """Adding one real article to a big index, against embedding that article's texts alone
    (what the ingest embeds: its passages' and sentences' distinct searchable texts), each
    article timed both ways in turn; then questions answered while ingests run; then the
    merges the ingests left due, as the bot runs them in the background."""
    import threading
    from dataclasses import replace

    import retrieval.build as build_module
    import retrieval.storage as storage_module
    import tradetalk.engine as engine_module
    from corpus.articles import read_article
    from corpus.passages import split_passages
    from retrieval.text import search_text
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    served_by = _Relabelled(encoder, args.index_backend) if args.index_backend else encoder
    engine = Engine(
        common.bench_settings(args.data_dir, args.index_backend or args.backend), encoder=served_by
    )
    open_s = common.timed(engine.open)
    start_passages = len(engine.index)
    paths = sorted(common.FIXTURE_ARTICLES.glob("*.md")) + sorted(
        common.FIXTURE_ARTICLES.glob("*.txt")
    )
    # Ids of their own per run: the same article again would be "unchanged" (no work at all).
    articles = [
        replace(read_article(p, max_bytes=10_000_000), id=f"bench-{args.backend}-{n}")
        for n, p in enumerate(paths)
    ]

    def texts_of(article) -> list[str]:
        out = []
        for passage in split_passages(article):
            out.append(search_text(passage.text, article.date))
            out.extend(search_text(t, article.date) for t in passage.sentence_texts(article.text))
        return list(dict.fromkeys(out))

    for question in common.questions()[:20]:  # warm: model, mapped pages, caches
        common.ask_once(engine, question)
    encoder.encode(texts_of(articles[0]))
    runs = []
    phases: dict[str, float] = {}
    with (
        _stopwatch(build_module, "_embed", phases),
        _stopwatch(build_module, "link_against", phases),
        _stopwatch(engine_module.Engine, "_publish_change", phases),
        _stopwatch(storage_module.IndexStorage, "write_segment", phases),
        _stopwatch(storage_module.IndexStorage, "publish_manifest", phases),
    ):
        for article in articles[: args.articles]:
            texts = texts_of(article)
            embed_s = common.timed(lambda t=texts: encoder.encode(t))
            ingest_s = common.timed(lambda a=article: engine.ingest_article(a))
            runs.append(
                {
                    "article": article.id,
                    "texts": len(texts),
                    "embed_s": round(embed_s, 3),
                    "ingest_s": round(ingest_s, 3),
                    "ratio": round(ingest_s / embed_s, 2),
                }
            )
    segments_after = len(engine.index.segments)
    # Questions while ingests run in another thread, against the same questions without.
    questions = common.questions()
    idle = [common.timed(lambda q=q: common.ask_once(engine, q)) for q in questions]
    busy: list[float] = []
    stop = threading.Event()

    def keep_ingesting() -> None:
        n = 0
        while not stop.is_set():
            article = articles[n % len(articles)]
            engine.ingest_article(replace(article, id=f"{article.id}-again-{n}"))
            n += 1

    writer = threading.Thread(target=keep_ingesting)
    writer.start()
    try:
        for question in questions:
            busy.append(common.timed(lambda q=question: common.ask_once(engine, q)))
    finally:
        stop.set()
        writer.join()
    merge_s = common.timed(engine.merge)
    result = {
        "backend": args.backend,
        "passages": start_passages,
        "open_s": round(open_s, 1),
        "runs": runs,
        "ratio_median": statistics.median(r["ratio"] for r in runs),
        "ingest_median_s": statistics.median(r["ingest_s"] for r in runs),
        "embed_median_s": statistics.median(r["embed_s"] for r in runs),
        "phases_s": {k: round(v / len(runs), 3) for k, v in phases.items()},
        "segments_after_ingests": segments_after,
        "questions_idle": summary(idle),
        "questions_during_ingest": summary(busy),
        "merge_s": round(merge_s, 1),
        "segments_after_merge": len(engine.index.segments),
        "rss_peak_mb": peak_rss_mb(),
    }
    engine.close()
    return result


# -- the vector index alone ------------------------------------------------------------------


def _ann_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    stem = f"{args.kind}-{args.passages}-{args.noise}"
    return args.data_dir / f"{stem}.faiss", args.data_dir / f"{stem}-truth.npy"


def ann_build(args: argparse.Namespace) -> dict:
    """Build one kind of vector index over `passages` clustered vectors and save it, with the
    exact top 10 of each query for the search step."""
    import faiss

    from bench.synthetic import unit_vectors
    from retrieval.dense import DenseIndex

    vectors = unit_vectors(args.passages, seed=1, noise=args.noise)
    queries = unit_vectors(args.queries, seed=99, noise=args.noise)
    _, truth = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    index_path, truth_path = _ann_paths(args)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    np.save(truth_path, truth, allow_pickle=False)
    started = time.perf_counter()
    DenseIndex.build(vectors, args.kind).save(index_path)
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "build_peak_rss_mb": peak_rss_mb(),
        "file_mb": round(index_path.stat().st_size / 2**20, 1),
    }


def ann_search(args: argparse.Namespace) -> dict:
    """Load the saved index as a served build loads it (memory-mapped where FAISS can) in a
    fresh process, and time single-query searches for 64 candidates, as the search asks."""
    from bench.synthetic import unit_vectors
    from retrieval.dense import DenseIndex

    queries = unit_vectors(args.queries, seed=99, noise=args.noise)
    index_path, truth_path = _ann_paths(args)
    truth = np.load(truth_path, allow_pickle=False)
    before = rss_mb()
    index = DenseIndex.load(index_path, args.kind)
    after_load = rss_mb()
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = index.search(query[None, :], 64)
        times.append(time.perf_counter() - start)
        found.append(hits.ids[0][:10])
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    result = {
        "kind": args.kind,
        "passages": args.passages,
        "noise": args.noise,
        "search": summary(times),
        "recall_at_10": round(recall, 4),
        "rss_after_load_mb": round(after_load - before, 1),
        "rss_after_search_mb": round(rss_mb() - before, 1),
    }
    index_path.unlink()
    truth_path.unlink()
    return result


# -- ingest throughput -----------------------------------------------------------------------


def ingest_throughput(args: argparse.Namespace) -> dict:
    """`index --rebuild` and `ingest` on articles made of real news sentences, against raw
    ``model.encode`` on the same passages (and on every text ingest embeds)."""
    from bench.synthetic import write_news_articles
    from retrieval.text import search_text
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    encoder.encode(["warm up"] * 8)
    articles = args.data_dir / "corpus"
    write_news_articles(articles, args.articles, seed=3)
    engine = Engine(
        common.bench_settings(args.data_dir / "data", args.backend, bundled_dir=articles),
        encoder=encoder,
    )
    rebuild_s = common.timed(engine.open)  # an empty data dir: embeds and writes everything
    index = engine.index
    passages, sentences = [], []
    for record in index.records.iter_passages():
        date = index.articles[record.article_id].date
        passages.append(search_text(record.text, date))
        sentences.extend(search_text(s, date) for s in record.sentence_texts())
    # The machine is shared: alternate the three measurements and keep each one's best run.
    raw_p, raw_a, rebuilds = [], [], []
    for _ in range(args.repeats):
        raw_p.append(common.timed(lambda: encoder.encode(passages)))
        raw_a.append(common.timed(lambda: encoder.encode(passages + sentences)))
        rebuilds.append(common.timed(engine.rebuild))  # what `tradetalk index --rebuild` runs
    if args.profile:  # one more rebuild, profiled (not timed)
        _profile(engine.rebuild, args.profile)
    raw_passages_s, raw_all_s, rebuild_again_s = min(raw_p), min(raw_a), min(rebuilds)
    engine.close()
    # `tradetalk ingest FILES`: one build per file, on top of the bundled article.
    added = sorted(articles.glob("*.md"))[: args.ingest_files]
    ingest_engine = Engine(
        common.bench_settings(args.data_dir / "ingest", args.backend), encoder=encoder
    )
    ingest_engine.open()
    before = len(ingest_engine.index)
    ingest_s = common.timed(lambda: [ingest_engine.ingest_path(p) for p in added])
    ingested = len(ingest_engine.index) - before
    ingest_engine.close()
    n = len(passages)
    return {
        "backend": args.backend,
        "articles": args.articles,
        "passages": n,
        "sentences": len(sentences),
        "first_build_s": round(rebuild_s, 2),
        "rebuild_s": round(rebuild_again_s, 2),
        "runs_s": {"raw_passages": raw_p, "raw_all": raw_a, "rebuild": rebuilds},
        "raw_encode_passages_s": round(raw_passages_s, 2),
        "raw_encode_all_texts_s": round(raw_all_s, 2),
        "rebuild_passages_per_s": round(n / rebuild_again_s, 1),
        "raw_passages_per_s": round(n / raw_passages_s, 1),
        "ratio": round(raw_passages_s / rebuild_again_s, 3),
        "ratio_same_texts": round(raw_all_s / rebuild_again_s, 3),
        "ingest_files": len(added),
        "ingest_passages": ingested,
        "ingest_passages_per_s": round(ingested / ingest_s, 1),
        "ingest_ratio": round((ingested / ingest_s) / (n / raw_passages_s), 3),
    }


# -- under load ------------------------------------------------------------------------------


def load_threads(args: argparse.Namespace) -> dict:
    from bench.load import run_threads

    return run_threads(args)


# -- many servers ------------------------------------------------------------------------------

SERVER_ID_BASE = 10**17  # synthetic server ids, snowflake-sized


def servers_build(args: argparse.Namespace) -> dict:
    """The global library (the bundled article, really embedded) and `servers` server
    libraries of `articles` synthetic articles each (10 passages an article), each written as
    its own build by the production write path."""
    from bench.synthetic import SyntheticCorpus, TextGenerator, synthetic_data
    from retrieval.storage import IndexStorage
    from tenancy.layout import server_paths
    from tradetalk.engine import Engine

    encoder = common.bench_encoder(args.backend, args.model_cache)
    engine = Engine(common.bench_settings(args.data_dir, args.backend), encoder=encoder)
    engine.open()
    model_id, backend = engine.index.manifest.model_id, engine.index.manifest.backend
    engine.close()
    generator = TextGenerator(7)
    started = time.perf_counter()
    sizes = []
    for n in range(args.servers):
        data = synthetic_data(
            SyntheticCorpus(args.articles * 10, sentences_per_passage=2.0, seed=1000 + n),
            model_id=model_id,
            backend=backend,
            generator=generator,
        )
        build = IndexStorage(server_paths(args.data_dir, SERVER_ID_BASE + n).index).publish(data)
        sizes.append(sum(f.stat().st_size for f in build.iterdir() if f.is_file()))
    return {
        "servers": args.servers,
        "articles_per_server": args.articles,
        "passages_per_server": args.articles * 10,
        "build_s": round(time.perf_counter() - started, 1),
        "index_mb_per_server": round(sum(sizes) / len(sizes) / 2**20, 2),
        "rss_peak_mb": peak_rss_mb(),
    }


def servers_serve(args: argparse.Namespace) -> dict:
    """One process serving every server (`Libraries`, the bot's engine room) under a memory
    budget: the first question to cold servers, warm answers, a question to every server, and
    questions to servers drawn at random; each answer timed against the floor (the encoder
    alone), interleaved."""
    import random

    from retrieval.search import prepare_query
    from tenancy import Libraries

    base_rss = rss_mb()
    encoder = common.bench_encoder(args.backend, args.model_cache)
    encoder.encode(["warm up"])
    model_rss = rss_mb()
    settings = common.bench_settings(args.data_dir, args.backend, memory_budget_mb=args.budget_mb)
    libraries = Libraries(settings, encoder=encoder)
    libraries.open()
    open_rss = rss_mb()
    servers = [SERVER_ID_BASE + n for n in range(args.servers)]
    questions = common.questions()
    rng = random.Random(11)
    floor: list[float] = []

    def answer(server: int, question: str) -> float:
        text = prepare_query(question)
        floor.append(common.timed(lambda: encoder.encode([text])))
        return common.timed(lambda: _ask_in(libraries, server, question))

    for question in questions:  # warm the global library, the encoder, the allocators
        _ask_in(libraries, None, question)
    cold_sample = rng.sample(servers, min(args.cold, len(servers)))
    cold = [answer(s, rng.choice(questions)) for s in cold_sample]
    warm_set = libraries.loaded()
    warm = [
        answer(rng.choice(warm_set), q)
        for round_ in range(3)
        for q in common.shuffled(questions, round_)
    ]
    loads_before = libraries.loads
    sweep_started = time.perf_counter()
    for server in common.shuffled(servers, 5):
        _ask_in(libraries, server, rng.choice(questions))
    sweep_s = time.perf_counter() - sweep_started
    after_sweep = {
        "rss_mb": rss_mb(),
        "loaded": len(libraries.loaded()),
        "loaded_index_mb": round(libraries.loaded_bytes() / 2**20, 1),
        "loads": libraries.loads - loads_before,
    }
    loads_before = libraries.loads
    mixed = [answer(rng.choice(servers), rng.choice(questions)) for _ in range(args.mixed)]
    result = {
        "backend": args.backend,
        "servers": len(servers),
        "budget_mb": args.budget_mb,
        "floor": summary(floor),
        "cold_first_answer": summary(cold),
        "warm": summary(warm),
        "sweep_s": round(sweep_s, 1),
        "after_sweep": after_sweep,
        "mixed": summary(mixed),
        "mixed_loads": libraries.loads - loads_before,
        "rss_base_mb": base_rss,
        "rss_model_mb": model_rss,
        "rss_open_mb": open_rss,
        "rss_end_mb": rss_mb(),
        "rss_peak_mb": peak_rss_mb(),
        "rss_end": memory_split(),
    }
    libraries.close()
    return result


def _ask_in(libraries, server: int | None, question: str) -> None:
    from tradetalk.errors import QuestionError

    with contextlib.suppress(QuestionError):  # a refused question is an answer too
        libraries.ask(server, question)


def load_discord(args: argparse.Namespace) -> dict:
    from bench.load import run_discord

    return run_discord(args)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, fn: Callable[[argparse.Namespace], dict]) -> argparse.ArgumentParser:
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--backend", default="torch", choices=["torch", "onnx"])
        p.add_argument("--data-dir", type=Path, required=True)
        p.add_argument("--model-cache", type=Path, required=True)
        return p

    p = command("serve", serve)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", type=Path)
    p.add_argument("--index-backend", choices=["torch", "onnx"])
    p = command("scale-build", scale_build)
    p.add_argument("--passages", type=int, required=True)
    p = command("scale-ingest", scale_ingest)
    p.add_argument("--index-backend", choices=["torch", "onnx"])
    p.add_argument("--articles", type=int, default=7)
    for name, fn in (("ann-build", ann_build), ("ann-search", ann_search)):
        p = command(name, fn)
        p.add_argument("--passages", type=int, required=True)
        p.add_argument("--kind", required=True, choices=["flat", "hnsw", "ivf"])
        p.add_argument("--noise", type=float, default=1.5)
        p.add_argument("--queries", type=int, default=300)
    p = command("ingest-throughput", ingest_throughput)
    p.add_argument("--articles", type=int, default=200)
    p.add_argument("--ingest-files", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--profile", type=Path)
    p = command("servers-build", servers_build)
    p.add_argument("--servers", type=int, default=1000)
    p.add_argument("--articles", type=int, default=20)
    p = command("servers-serve", servers_serve)
    p.add_argument("--servers", type=int, default=1000)
    p.add_argument("--budget-mb", type=int, default=512)
    p.add_argument("--cold", type=int, default=100)
    p.add_argument("--mixed", type=int, default=400)
    for name, fn in (("load-threads", load_threads), ("load-discord", load_discord)):
        p = command(name, fn)
        p.add_argument("--users", type=int, default=20)
        p.add_argument("--questions", type=int, default=200)
        p.add_argument("--batching", type=int, default=1)
        p.add_argument("--bot-process", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    result = args.fn(args)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    emit(result)


if __name__ == "__main__":
    main()
