"""Several processes on one data dir (the bot, a CLI ingest): every write starts from the newest
build on disk, a serving engine swaps in a build another process published, and a build is
closed only when no search holds it.

The other process is a real separate process (``python -c`` or the real CLI) writing to the
same data dir while an engine in the test serves it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from retrieval.index import PassageIndex
from tradetalk.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
FIRST = ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
THIRD = ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"

OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from pathlib import Path
    from conftest import HashingEncoder
    from config.settings import Settings
    from tradetalk.engine import Engine

    engine = Engine(Settings(data_dir={data!r}), encoder=HashingEncoder())
    engine.open()
    if sys.argv[1] == "ingest":
        print(engine.ingest_path(Path(sys.argv[2])).article.id)
    else:
        print(engine.remove(sys.argv[2]).id)
    """
)


def in_another_process(data: Path, *args: str) -> str:
    """Run one write in a separate Python process against `data`; its printed article id."""
    script = OTHER_PROCESS.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data))
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=data.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def serving(data: Path) -> Engine:
    """The engine a bot would hold: opened once, then serving for a long time."""
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    engine.ingest_path(FIRST)
    return engine


def on_disk(data: Path) -> set[str]:
    fresh = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    fresh.open()
    try:
        return {a.id for a in fresh.articles()}
    finally:
        fresh.close()


def test_a_write_starts_from_what_another_process_wrote(serving: Engine, data: Path) -> None:
    """The bot's own ingest keeps an article the CLI added meanwhile, and doesn't write back
    one the CLI removed."""
    added_elsewhere = in_another_process(data, "ingest", str(OTHER))
    mine = serving.ingest_path(THIRD).article.id
    assert {added_elsewhere, mine} <= {a.id for a in serving.articles()}
    assert {added_elsewhere, mine} <= on_disk(data)

    in_another_process(data, "remove", added_elsewhere)
    serving.remove(mine)  # another write of the serving engine
    assert added_elsewhere not in {a.id for a in serving.articles()}
    assert added_elsewhere not in on_disk(data)
    assert not (data / "articles" / f"{added_elsewhere}.md").exists()


def test_a_serving_engine_swaps_in_a_newer_build(serving: Engine, data: Path) -> None:
    generation = serving.index.manifest.generation
    added_elsewhere = in_another_process(data, "ingest", str(OTHER))
    # The next question notices the newer build, without any write of its own.
    hits = serving.search("U.S. and Mexico preliminary trade pact").hits
    assert added_elsewhere in {h.article.id for h in hits}
    assert serving.index.manifest.generation > generation
    assert added_elsewhere in {a.id for a in serving.articles()}


@pytest.mark.model
def test_the_real_cli_and_a_serving_engine_share_a_data_dir(data: Path, real_encoder) -> None:
    """The same with `tradetalk ingest` / `tradetalk remove` themselves and the real model."""
    settings = Settings(data_dir=data)
    serving = Engine(settings)
    serving.open()
    cli = [sys.executable, "-c", "from cli.main import app; app()", "--data-dir", str(data)]
    added = subprocess.run(
        [*cli, "ingest", str(OTHER)], capture_output=True, text=True, timeout=300
    )
    assert added.returncode == 0, added.stderr
    other_id = added.stdout.split()[1]
    answer = serving.ask("What did the U.S. and Mexico agree in their preliminary pact?")
    assert other_id in {h.article.id for h in answer.hits}
    mine = serving.ingest_path(THIRD).article.id
    removed = subprocess.run(
        [*cli, "remove", other_id], capture_output=True, text=True, timeout=300
    )
    assert removed.returncode == 0, removed.stderr
    assert other_id not in {a.id for a in serving.articles()}
    serving.rebuild()  # the bot's /reindex: from the files, so still without it
    assert {a.id for a in serving.articles()} >= {mine}
    assert other_id not in {a.id for a in serving.articles()}


class GatedEncoder(HashingEncoder):
    """Holds the encoding of one question until the test lets it go: a search in flight."""

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question
        self.waiting = threading.Event()
        self.go = threading.Event()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if self.question in texts:
            self.waiting.set()
            assert self.go.wait(60)
        return super().encode(texts, batch_size=batch_size)


def test_a_search_in_flight_keeps_its_build_across_two_swaps(data: Path) -> None:
    question = "preliminary deal with Mexico"
    encoder = GatedEncoder(question)
    engine = Engine(Settings(data_dir=data), encoder=encoder)
    engine.open()
    engine.ingest_path(OTHER)
    first_build = engine.index
    outcome: list[object] = []

    def search() -> None:
        try:
            outcome.append(engine.search(question))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    assert encoder.waiting.wait(30)  # the search has its build and is encoding the question
    engine.ingest_path(FIRST)  # swap 1
    engine.ingest_path(THIRD)  # swap 2: used to close the build the search is on
    assert engine.index is not first_build
    assert not first_build.closed and first_build.leases == 1
    encoder.go.set()
    thread.join(30)
    (result,) = outcome
    assert not isinstance(result, BaseException), repr(result)
    assert result.hits and result.hits[0].record.text  # passages read from the old build
    assert first_build.closed and first_build.leases == 0  # closed once the search let go


def test_a_retired_build_closes_at_once_when_nothing_holds_it(data: Path) -> None:
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    old: PassageIndex = engine.index
    with engine.leased() as held:
        assert held is old
        engine.ingest_path(OTHER)
        engine.ingest_path(FIRST)
        assert not held.closed
        assert len(held.records.passages([0])) == 1  # still readable
    assert old.closed
    assert not engine.index.closed


def test_remove_deletes_the_article_whatever_its_file_is_called(data: Path) -> None:
    articles = data / "articles"
    articles.mkdir(parents=True)
    shutil.copy(OTHER, articles / "dropped in by hand.md")
    shutil.copy(THIRD, articles / "notes.txt.md")
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    by_hand = next(a for a in engine.articles() if "preliminary" in a.title.lower())
    assert engine.remove(by_hand.id).id == by_hand.id
    assert not (articles / "dropped in by hand.md").exists()
    assert (articles / "notes.txt.md").exists()
    assert by_hand.id not in on_disk(data)  # it does not come back at the next start


def test_current_as_a_real_directory_is_recovered(data: Path) -> None:
    """A backup restored without symlinks: `index/current` is a copy of a build."""
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    engine.ingest_path(OTHER)
    ids = {a.id for a in engine.articles()}
    build = engine.index.directory
    engine.close()
    current = data / "index" / "current"
    current.unlink()
    shutil.copytree(build, current)
    restored = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    restored.open()
    assert {a.id for a in restored.articles()} == ids
    added = restored.ingest_path(THIRD).article.id  # every later write used to fail
    assert current.is_symlink() and os.readlink(current).startswith("builds/")
    assert on_disk(data) == ids | {added}
