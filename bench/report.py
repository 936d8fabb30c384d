"""The benchmark's Markdown: the goals table and the detail tables behind it."""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
SERVERS_BEGIN = "<!-- bench:servers:begin -->"
SERVERS_END = "<!-- bench:servers:end -->"
BACKENDS = ("torch", "onnx")


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _check(value: float | None, limit: float, *, at_least: bool = False) -> str:
    if value is None:
        return "not run"
    ok = value >= limit if at_least else value <= limit
    return "yes" if ok else "**no**"


def _get(data: dict, *path: str):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _latency_ratio(serve: dict | None, stat: str) -> float | None:
    if not serve or "answer" not in serve:
        return None
    return serve["answer"][stat] / serve["floor"]["p50_ms"]


def _serve(results: dict, corpus: str, backend: str) -> dict | None:
    if corpus == "bundled":
        return _get(results, "serve", backend)
    return _get(results, "scale", corpus, f"serve_{backend}")


def _rss_budget(serve: dict | None) -> tuple[float, float, float] | None:
    """(peak, model + 1.3 × passage vectors, model + 1.3 × all vectors) in MiB."""
    if not serve:
        return None
    vectors = serve["vector_bytes"]
    model = serve["rss_model_mb"]
    return (
        serve["rss_peak_mb"],
        model + 1.3 * vectors["passage"] / 2**20,
        model + 1.3 * (vectors["passage"] + vectors["sentence"]) / 2**20,
    )


def goals(results: dict) -> list[str]:
    rows = ["| figure | torch | onnx | goal | met (torch / onnx) |", "|---|---|---|---|---|"]

    def row(label: str, values: list[float | None], fmt, goal: str, checks: list[str]) -> None:
        rows.append(
            f"| {label} | {fmt(values[0])} | {fmt(values[1])} | {goal} | "
            + " / ".join(checks)
            + " |"
        )

    floors = [_get(results, "serve", b, "floor", "p50_ms") for b in BACKENDS]
    row(
        "query encoding alone (the floor), p50",
        floors,
        lambda v: "–" if v is None else f"{v:.1f} ms",
        "–",
        ["–"],
    )
    corpora = ["bundled", *sorted(_get(results, "scale") or {}, key=int)]
    limits = {"100000": 1.5, "1000000": 2.0}
    for corpus in corpora:
        name = "bundled corpus" if corpus == "bundled" else f"{int(corpus):,} passages"
        p50 = [_latency_ratio(_serve(results, corpus, b), "p50_ms") for b in BACKENDS]
        p99 = [_latency_ratio(_serve(results, corpus, b), "p99_ms") for b in BACKENDS]
        limit = limits.get(corpus)
        row(
            f"answer p50 ÷ floor, {name}",
            p50,
            _ratio,
            f"≤ {limit}×" if limit else "–",
            [_check(v, limit) for v in p50] if limit else ["–"],
        )
        row(f"answer p99 ÷ floor, {name}", p99, _ratio, "≤ 3×", [_check(v, 3.0) for v in p99])
    ingest = [_get(results, "ingest", b, "ratio") for b in BACKENDS]
    row(
        "`index --rebuild` passages/s ÷ raw `model.encode` passages/s",
        ingest,
        _ratio,
        "≥ 0.85",
        [_check(v, 0.85, at_least=True) for v in ingest],
    )
    same = [_get(results, "ingest", b, "ratio_same_texts") for b in BACKENDS]
    row(
        "… the same, counting every text it embeds (passages + sentences)", same, _ratio, "–", ["–"]
    )
    per_file = [_get(results, "ingest", b, "ingest_ratio") for b in BACKENDS]
    label = "one article at a time (a `/ingest`: a build each) ÷ raw encode"
    row(label, per_file, _ratio, "–", ["–"])
    for corpus in sorted(_get(results, "scale") or {}, key=int):
        runs = [_get(results, "scale", corpus, f"ingest_{b}") for b in BACKENDS]
        name = f"{int(corpus):,} passages"
        ratios = [r.get("ratio_median") if r else None for r in runs]
        walls = [r.get("ingest_median_s") if r else None for r in runs]
        if corpus == "100000":
            row(
                f"one article added to {name} ÷ embedding its texts alone (median)",
                ratios,
                _ratio,
                "≤ 2×",
                [_check(v, 2.0) for v in ratios],
            )
        else:
            label = f"one article added to {name} ÷ embedding its texts alone"
            row(label, ratios, _ratio, "–", ["–"])
        goal = "≤ 10 s" if corpus == "1000000" else "–"
        row(
            f"… wall time of that ingest, {name} (median)",
            walls,
            lambda v: "–" if v is None else f"{v:.2f} s",
            goal,
            [_check(v, 10.0) for v in walls] if goal != "–" else ["–"],
        )
        during = [
            None
            if not r or "questions_during_ingest" not in r
            else r["questions_during_ingest"]["p50_ms"] / r["questions_idle"]["p50_ms"]
            for r in runs
        ]
        row(
            f"… a question asked during ingests, p50 ÷ p50 without, {name}",
            during,
            _ratio,
            "≤ 1.5×",
            [_check(v, 1.5) for v in during],
        )
    start = [_get(results, "startup", b, "ratio") for b in BACKENDS]
    row(
        "start-up: one-shot `tradetalk ask` ÷ `import sentence_transformers`",
        start,
        _ratio,
        "≤ 1.5×",
        [_check(v, 1.5) for v in start],
    )
    rebuilt = [_get(results, "startup", b, "rebuilt_at_start") for b in BACKENDS]
    row(
        "… re-embedded or rebuilt at start",
        rebuilt,
        lambda v: "–" if v is None else ("yes" if v else "no"),
        "no",
        ["–" if v is None else ("yes" if not v else "**no**") for v in rebuilt],
    )
    labels = {
        "process": "Discord (loopback), bot in its own process",
        "discord": "Discord (loopback), bot and fake in one process",
        "threads": "engine in threads",
    }
    for via, label in labels.items():
        load = [_get(results, "load", f"{via}_{b}_batched") for b in BACKENDS]
        answered = [
            None if not x or "answered" not in x else x["answered"] / x["questions"] for x in load
        ]
        row(
            f"under load via {label}, 200 q / 20 users: share answered",
            answered,
            lambda v: "–" if v is None else f"{v:.0%}",
            "100%",
            [_check(v, 1.0, at_least=True) for v in answered],
        )
        speed = [None if not x or "rate" not in x else x["rate"] / x["single_rate"] for x in load]
        row(
            f"… answers/s ÷ single-question answers/s ({label})",
            speed,
            _ratio,
            "≥ 1×",
            [_check(v, 1.0, at_least=True) for v in speed],
        )
        p99 = [None if not x or "load" not in x else x["load"]["p99_ms"] / 1000 for x in load]
        row(
            f"… p99 latency ({label})",
            p99,
            lambda v: "–" if v is None else f"{v:.2f} s",
            "< 2 s",
            [_check(v, 2.0) for v in p99],
        )
    for corpus in sorted(_get(results, "scale") or {}, key=int):
        budgets = [_rss_budget(_serve(results, corpus, b)) for b in BACKENDS]
        row(
            f"peak RSS serving {int(corpus):,} passages ÷ (model + 1.3 × passage vectors)",
            [None if x is None else x[0] / x[1] for x in budgets],
            _ratio,
            "≤ 1×",
            [_check(None if x is None else x[0] / x[1], 1.0) for x in budgets],
        )
        row(
            "… ÷ (model + 1.3 × passage and sentence vectors)",
            [None if x is None else x[0] / x[2] for x in budgets],
            _ratio,
            "≤ 1×",
            [_check(None if x is None else x[0] / x[2], 1.0) for x in budgets],
        )
    for row_ in _get(results, "ann") or []:
        if row_["kind"] != "flat" and row_["noise"] == 1.5:
            value = row_["recall_at_10"]
            rows.append(
                f"| recall@10 vs exact, {row_['kind']} at {row_['passages']:,} "
                f"| {value:.3f} | (same index) | ≥ 0.95 | {_check(value, 0.95, at_least=True)} |"
            )
    check = _get(results, "onnx_export", "check", "min_cosine")
    rows.append(
        f"| ONNX export vs torch: lowest cosine on the bundled passages | – | "
        f"{'–' if check is None else f'{check:.6f}'} | ≥ 0.99 | "
        f"{_check(check, 0.99, at_least=True)} |"
    )
    return rows


def latency_table(results: dict) -> list[str]:
    rows = [
        "| corpus | backend | index | floor p50 / p99 (ms) | answer p50 / p99 (ms) | "
        "p50 ÷ floor | p99 ÷ floor | open (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for corpus in ["bundled", *sorted(_get(results, "scale") or {}, key=int)]:
        for backend in BACKENDS:
            s = _serve(results, corpus, backend)
            if not s:
                continue
            name = "bundled" if corpus == "bundled" else f"{int(corpus):,}"
            rows.append(
                f"| {name} ({s['passages']:,}) | {backend} | {s['index_kind']} | "
                f"{s['floor']['p50_ms']:.2f} / {s['floor']['p99_ms']:.2f} | "
                f"{s['answer']['p50_ms']:.2f} / {s['answer']['p99_ms']:.2f} | "
                f"{_ratio(_latency_ratio(s, 'p50_ms'))} | {_ratio(_latency_ratio(s, 'p99_ms'))} "
                f"| {s['open_s']:.1f} |"
            )
    return rows


def scale_table(results: dict) -> list[str]:
    rows = [
        "| passages | build (s) | where the build time goes (s) | build peak RSS (MiB) | "
        "serving RSS: model / peak (MiB) | vectors on disk: passages / sentences (MiB) | "
        "one ingest (s) | where the ingest time goes (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for corpus, data in sorted((_get(results, "scale") or {}).items(), key=lambda x: int(x[0])):
        build = data.get("build", {})
        ingest = data.get("ingest_onnx") or data.get("ingest") or {}
        serve = data.get("serve_onnx") or data.get("serve_torch") or {}
        vectors = serve.get("vector_bytes", {"passage": 0, "sentence": 0})
        torch_serve = data.get("serve_torch") or {}
        rows.append(
            f"| {int(corpus):,} | {build.get('write_s', '–')} | {_phases(build)} | "
            f"{build.get('rss_peak_mb', '–')} | torch {torch_serve.get('rss_model_mb', '–')} / "
            f"{torch_serve.get('rss_peak_mb', '–')}; onnx {serve.get('rss_model_mb', '–')} / "
            f"{serve.get('rss_peak_mb', '–')} | {vectors['passage'] / 2**20:.0f} / "
            f"{vectors['sentence'] / 2**20:.0f} | "
            f"{ingest.get('ingest_median_s', ingest.get('ingest_s', '–'))} | "
            f"{_phases(ingest)} |"
        )
    return rows


def append_table(results: dict) -> list[str]:
    rows = [
        "| passages | backend | embedding its texts alone (s) | the ingest (s) | ingest ÷ "
        "embedding: median (range) | where an ingest goes, mean (s) | question p50 without / "
        "during ingests (ms) | merges after (s) | segments after ingests / merges |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus, data in sorted((_get(results, "scale") or {}).items(), key=lambda x: int(x[0])):
        for backend in BACKENDS:
            r = data.get(f"ingest_{backend}")
            if not r or "runs" not in r:
                continue
            ratios = [x["ratio"] for x in r["runs"]]
            rows.append(
                f"| {int(corpus):,} | {backend} | {r['embed_median_s']:.2f} | "
                f"{r['ingest_median_s']:.2f} | {r['ratio_median']:.2f}× ({min(ratios):.2f}–"
                f"{max(ratios):.2f}) | {_phases(r)} | {r['questions_idle']['p50_ms']:.1f} / "
                f"{r['questions_during_ingest']['p50_ms']:.1f} | {r['merge_s']} | "
                f"{r['segments_after_ingests']} / {r['segments_after_merge']} |"
            )
    return rows


def _phases(data: dict) -> str:
    names = {
        "_embed": "embed",
        "build._embed": "embed",
        "link_against": "find copies",
        "build.link_against": "find copies",
        "Engine._publish_change": "write + open the new build (below)",
        "IndexStorage.write_segment": "new segment",
        "IndexStorage.publish_manifest": "new build's manifest, switch, prune",
        "Postings.build": "BM25 postings",
        "segment.write_records": "SQLite records",
        "segment.checksum_files": "checksums",
        "build": "vector index + BM25 index",
        "DenseIndex.build": "vector index",
        "LexicalIndex.build": "BM25 index",
        "lexical_tokens": "BM25 terms",
        "IndexData.lexical_tokens": "BM25 terms",
        "write_records": "SQLite records",
        "index.write_records": "SQLite records",
        "checksum_files": "checksums",
        "index.checksum_files": "checksums",
        "to_data": "read old build",
        "PassageIndex.to_data": "read old build",
        "add_articles": "embed + dedupe",
        "engine.add_articles": "embed + dedupe",
        "_publish": "write new build (all of the above)",
        "Engine._publish": "write new build (all of the above)",
    }
    phases = data.get("phases_s") or {}
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in phases.items()) or "–"


def ann_rows(results: dict) -> list[str]:
    rows = [
        "| passages | index | data (noise) | build (s) | search p50 / p99 (ms) | "
        "recall@10 | file (MiB) | RSS after load / after 300 searches (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in _get(results, "ann") or []:
        rows.append(
            f"| {r['passages']:,} | {r['kind']} | {r['noise']} | {r['build_s']} | "
            f"{r['search']['p50_ms']:.2f} / {r['search']['p99_ms']:.2f} | "
            f"{r['recall_at_10']:.3f} | {r['file_mb']} | {r['rss_after_load_mb']} / "
            f"{r['rss_after_search_mb']} |"
        )
    return rows


def load_rows(results: dict) -> list[str]:
    rows = [
        "| via | backend | micro-batching | answered | single-question rate (/s) | "
        "rate under load (/s) | p50 / p99 under load (ms) | model calls (largest batch) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (_get(results, "load") or {}).items():
        if "error" in r:
            rows.append(f"| {name} | – | – | failed: `{r['error'][-200:]}` | | | | |")
            continue
        rows.append(
            f"| {r['via']} | {r['backend']} | {'yes' if r['batching'] else 'no'} | "
            f"{r['answered']}/{r['questions']} | {r['single_rate']} | {r['rate']} | "
            f"{r['load']['p50_ms']:.0f} / {r['load']['p99_ms']:.0f} | "
            f"{r.get('model_calls', '–')} ({r.get('largest_batch', '–')}) |"
        )
    return rows


def startup_rows(results: dict) -> list[str]:
    rows = [
        "| backend | `tradetalk ask` (s) | `import sentence_transformers` (s) | ratio |",
        "|---|---|---|---|",
    ]
    for backend in BACKENDS:
        r = _get(results, "startup", backend)
        if r:
            rows.append(
                f"| {backend} | {r['ask_s']} | {r['import_sentence_transformers_s']} | "
                f"{r['ratio']}× |"
            )
    return rows


def ingest_rows(results: dict) -> list[str]:
    rows = [
        "| backend | passages (+ sentences) | `index --rebuild` (s) | raw encode of the "
        "passages (s) | raw encode of every text (s) | "
        "one article at a time, a build each (passages/s) |",
        "|---|---|---|---|---|---|",
    ]
    for backend in BACKENDS:
        r = _get(results, "ingest", backend)
        if r:
            rows.append(
                f"| {backend} | {r['passages']} (+{r['sentences']}) | {r['rebuild_s']} | "
                f"{r['raw_encode_passages_s']} | {r['raw_encode_all_texts_s']} | "
                f"{r['ingest_passages_per_s']} |"
            )
    return rows


def _trim_profile(text: str, lines: int = 45) -> str:
    body = [line for line in text.splitlines() if line.strip()]
    start = next(
        (i for i, line in enumerate(body) if line.lstrip().startswith(("0.", "1.", "2.", "3."))), 0
    )
    return "\n".join(body[start : start + lines])


def render(results: dict, profiles: dict[str, str]) -> str:
    m = results.get("machine", {})
    header = [
        BEGIN,
        "## Results",
        "",
        f"Produced by `{results.get('command', 'python -m bench')}` on {results.get('started')} "
        f"in {results.get('duration_min')} min. Machine: {m.get('cpu')}, {m.get('cores')} cores, "
        f"{m.get('ram_gb')} GB RAM, {m.get('os')}, Python {m.get('python')}; torch "
        f"{m.get('torch')}, sentence-transformers {m.get('sentence-transformers')}, onnxruntime "
        f"{m.get('onnxruntime')}, faiss-cpu {m.get('faiss-cpu')}, bm25s {m.get('bm25s')}. "
        f"Load average (1/5/15 min) before: {results.get('load_before')}, after: "
        f"{results.get('load_after')} (the machine is shared; see the notes).",
        "",
        *(
            f"- run started {run['started']}: {', '.join(run['sections'])}"
            for run in results.get("runs", [])
        ),
        "",
        "### Goals",
        "",
        *goals(results),
        "",
        "### Answer latency against the floor",
        "",
        "Floor: `encoder.encode([question])` alone. Answer: `Engine.ask(question)`, warm, in "
        "process. Both timed question by question, interleaved, over 3 shuffled rounds of the "
        "72 development questions; ratios are p50 (or p99) of answers over p50 of the floor.",
        "",
        *latency_table(results),
        "",
        "### Index at scale (synthetic passages on top of the bundled article)",
        "",
        *scale_table(results),
        "",
        "### Adding one article at scale",
        "",
        "Each fixture article added on its own to the synthetic index (a new segment each; "
        "`Engine.ingest_article`), timed against `encoder.encode` of the same article's "
        "distinct passage and sentence texts (what the ingest embeds), article by article in "
        "turn. Then the 72 questions asked once with nothing else running and once while "
        "another thread keeps ingesting; then `Engine.merge()` (what the bot runs in the "
        "background) on the segments the ingests left.",
        "",
        *append_table(results),
        "",
        "### Vector index by size",
        "",
        "Single-query searches for 64 candidates (what the search asks for), over 300 queries; "
        "recall@10 against exact search on the same vectors.",
        "",
        *ann_rows(results),
        "",
        "### Ingest throughput",
        "",
        *ingest_rows(results),
        "",
        "### Start-up",
        "",
        *startup_rows(results),
        "",
        "### Under load",
        "",
        *load_rows(results),
        "",
    ]
    for name, error in (results.get("errors") or {}).items():
        header += [
            f"**Section `{name}` failed in this run:**",
            "",
            "```text",
            error[-1500:],
            "```",
            "",
        ]
    if profiles:
        header += ["### Profiles (pyinstrument, 2 × 72 answers, top of the call tree)", ""]
        for name in sorted(profiles):
            header += [
                f"<details><summary><code>{name}</code></summary>",
                "",
                "```text",
                _trim_profile(profiles[name]),
                "```",
                "",
                "</details>",
                "",
            ]
    header.append(END)
    return "\n".join(header)


def render_servers(results: dict) -> str:
    """The servers section: one process serving every server's library."""
    data = results.get("servers") or {}
    build = data.get("build", {})
    m = results.get("machine", {})
    lines = [
        SERVERS_BEGIN,
        "### Many servers in one process",
        "",
        f"Produced by `{results.get('command', 'python -m bench --only servers')}` on "
        f"{results.get('started')}; {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gb')} GB "
        f"RAM; load average before {results.get('load_before')}, after "
        f"{results.get('load_after')}.",
        "",
        f"{build.get('servers', '–'):,} server libraries of {build.get('articles_per_server')} "
        f"synthetic articles ({build.get('passages_per_server')} passages, "
        f"{build.get('index_mb_per_server')} MiB of index files) each, built in "
        f"{build.get('build_s')} s, plus the global library (the bundled article), served by one "
        "`tenancy.Libraries` with the ONNX encoder. Every answer searches the server's library "
        "and the global one. Floor: the encoder alone on the same question, timed just before "
        "each answer; ratios are p50 (or p99) of answers over p50 of the floor.",
        "",
        "| memory budget | floor p50 / p99 (ms) | first answer, cold server: p50 / p99 (ms) | "
        "÷ floor | warm: p50 / p99 (ms) | ÷ floor | every server once: s, loaded after, "
        "loads | random servers: p50 / p99 (ms), loads | RSS: model / end / peak (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(k for k in data if k.startswith("budget_")):
        r = data[key]
        if "error" in r:
            lines.append(f"| {key} | failed: `{r['error'][-200:]}` | | | | | | | |")
            continue
        floor = r["floor"]["p50_ms"]

        def ratios(stats: dict, floor: float = floor) -> str:
            return f"{stats['p50_ms'] / floor:.1f}× / {stats['p99_ms'] / floor:.1f}×"

        sweep = r["after_sweep"]
        lines.append(
            f"| {r['budget_mb']:,} MB | {floor:.1f} / {r['floor']['p99_ms']:.1f} | "
            f"{r['cold_first_answer']['p50_ms']:.1f} / {r['cold_first_answer']['p99_ms']:.1f} | "
            f"{ratios(r['cold_first_answer'])} | {r['warm']['p50_ms']:.1f} / "
            f"{r['warm']['p99_ms']:.1f} | {ratios(r['warm'])} | {r['sweep_s']} s, "
            f"{sweep['loaded']:,} ({sweep['loaded_index_mb']} MiB), {sweep['loads']:,} | "
            f"{r['mixed']['p50_ms']:.1f} / {r['mixed']['p99_ms']:.1f}, {r['mixed_loads']} | "
            f"{r['rss_model_mb']:.0f} / {r['rss_end_mb']:.0f} / {r['rss_peak_mb']:.0f} |"
        )
    lines.append(SERVERS_END)
    return "\n".join(lines)


def write(path: Path, block: str, *, begin: str = BEGIN, end: str = END) -> None:
    """Replace the generated block between `begin` and `end` in `path` (or add it)."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if begin in text and end in text:
            pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
            path.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")
            return
        path.write_text(text.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    path.write_text("# Performance\n\n" + block + "\n", encoding="utf-8")
