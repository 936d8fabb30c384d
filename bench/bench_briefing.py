"""Issue-briefing latency: cold (first request on an index build) vs cached, per issue.

    .venv/bin/python bench/bench_briefing.py              # bundled + all fixture articles
    .venv/bin/python bench/bench_briefing.py --copies 20  # plus 20 renamed copies of each .md

Cold: a new `IssueBriefings` serves the issue, so the catalogue is read, every sentence of the
index is matched to the issues and the briefing composed (the issue vectors come from their
on-disk cache, as in every process after the first). Cached: the same request again, served from
the cache kept per (index build, catalogue). Then issue discovery and one timeline picture.
Prints milliseconds and the ratio; asserts nothing."""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from briefings.issue_briefings import IssueBriefings  # noqa: E402
from config.settings import Settings  # noqa: E402
from retrieval.encoder_loading import load_encoder  # noqa: E402
from tradetalk.engine import Engine  # noqa: E402

FIXTURES = [ROOT / "tests" / "fixtures" / "articles", ROOT / "tests" / "fixtures" / "briefings"]
CACHED_RUNS = 200


def build_engine(root: Path, copies: int) -> Engine:
    articles = root / "data" / "articles"
    articles.mkdir(parents=True)
    for folder in FIXTURES:
        for path in sorted(folder.iterdir()):
            if path.name == "README.md":
                continue
            shutil.copy(path, articles / path.name)
            if path.suffix != ".md":
                continue
            text = path.read_text(encoding="utf-8")
            for k in range(copies):
                # A new URL and title make a new article id; the text stays a near-copy.
                copy = re.sub(r"^url: (\S+)", rf"url: \1?copy={k}", text, count=1, flags=re.M)
                copy = re.sub(r'^title: "(.*)"', rf'title: "\1 ({k})"', copy, count=1, flags=re.M)
                (articles / f"{path.stem}-copy{k}.md").write_text(copy, encoding="utf-8")
    engine = Engine(Settings(_env_file=None, data_dir=root / "data"), encoder=load_encoder())
    engine.open()
    return engine


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=0, help="renamed copies of each .md article")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-briefing-"))
    try:
        started = time.perf_counter()
        engine = build_engine(root, args.copies)
        index = engine.index
        print(
            f"index: {len(index.articles)} articles, {index.manifest.passage_count} passages, "
            f"{index.manifest.sentence_count} sentences (built in "
            f"{time.perf_counter() - started:.1f} s)"
        )
        IssueBriefings(engine).briefing("dairy")  # encodes the issues once, caches them on disk

        print(f"{'issue':<16}{'cold ms':>10}{'cached ms':>12}{'ratio':>10}  articles")
        cold_all, cached_all = [], []
        for issue in IssueBriefings(engine).catalogue():
            briefings = IssueBriefings(engine)
            started = time.perf_counter()
            briefing = briefings.briefing(issue.id)
            cold = time.perf_counter() - started
            runs = []
            for _ in range(CACHED_RUNS):
                started = time.perf_counter()
                briefings.briefing(issue.id)
                runs.append(time.perf_counter() - started)
            cached = statistics.median(runs)
            cold_all.append(cold)
            cached_all.append(cached)
            print(
                f"{issue.id:<16}{ms(cold):>10}{ms(cached):>12}{cold / cached:>10.0f}  "
                f"{briefing.article_count}"
            )
        cold, cached = statistics.median(cold_all), statistics.median(cached_all)
        print(f"{'median':<16}{ms(cold):>10}{ms(cached):>12}{cold / cached:>10.0f}")
        started = time.perf_counter()
        warm = IssueBriefings(engine)
        warm.statuses()
        print(f"all issues (`issues`), cold: {ms(time.perf_counter() - started).strip()} ms")

        # Discovery (`issues --suggest`) on the scanned build, and the timeline picture.
        started = time.perf_counter()
        proposals = warm.proposals()
        print(
            f"issue discovery ({len(proposals)} proposals): "
            f"{ms(time.perf_counter() - started).strip()} ms"
        )
        from briefings.chart import timeline_png

        dairy = warm.briefing("dairy")
        started = time.perf_counter()
        timeline_png(dairy)
        print(f"timeline picture (dairy): {ms(time.perf_counter() - started).strip()} ms")

        # After an ingest the same IssueBriefings only classifies the new article's sentences.
        extra = root / "extra.md"
        text = (FIXTURES[1] / "2018-09-04-lakeview-chronicle-culture-exemption.md").read_text()
        extra.write_text(re.sub(r"^url: (\S+)", r"url: \1?extra", text, count=1, flags=re.M))
        engine.ingest_path(extra)
        started = time.perf_counter()
        warm.briefing("culture")
        print(
            f"first briefing after adding an article: "
            f"{ms(time.perf_counter() - started).strip()} ms"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
