"""Killed mid-write (SIGKILL) and other faults: the previous index keeps serving, no article is
lost, nothing half-written is used. The writer runs in a real subprocess that is really killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from tradetalk.engine import Engine
from tradetalk.errors import StorageError

ROOT = Path(__file__).resolve().parents[2]
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"

WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import HashingEncoder
    from config.settings import Settings
    from tradetalk.engine import Engine

    class SlowEncoder(HashingEncoder):
        def encode(self, texts, *, batch_size=64):
            print("embedding", flush=True)
            time.sleep(0.5)  # a slow model: plenty of time to be killed mid-build
            return super().encode(texts, batch_size=batch_size)

    engine = Engine(Settings(data_dir={data!r}), encoder=SlowEncoder())
    engine.open()
    print("ready", flush=True)
    if sys.argv[1] == "rebuild":
        engine.rebuild()
    else:
        engine.ingest_path(__import__("pathlib").Path(sys.argv[2]))
    print("finished", flush=True)
    """
)


def start_writer(data: Path, *args: str) -> subprocess.Popen:
    script = WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data))
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, cwd=data.parent
    )


def kill_while_embedding(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    seen_ready = False
    for line in process.stdout:
        if line.strip() == "ready":
            seen_ready = True
        elif seen_ready and line.strip() == "embedding":
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def reopen(data: Path) -> Engine:
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    return engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    engine.ingest_path(ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md")
    return data


def test_killed_during_rebuild_leaves_the_previous_index(data_dir: Path) -> None:
    before = reopen(data_dir)
    build, titles = before.index.directory, {a.title for a in before.articles()}
    before.index.close()
    kill_while_embedding(start_writer(data_dir, "rebuild"))
    after = reopen(data_dir)
    assert after.index.directory == build  # the same complete build serves
    assert {a.title for a in after.articles()} == titles
    assert not [p for p in after.storage.builds.iterdir() if p.name.startswith(".tmp-")]
    assert after.search("dairy").hits


def test_killed_during_ingest_loses_nothing(data_dir: Path) -> None:
    titles = {a.title for a in reopen(data_dir).articles()}
    kill_while_embedding(start_writer(data_dir, "ingest", str(OTHER)))
    after = reopen(data_dir)
    now = {a.title for a in after.articles()}
    assert titles <= now  # every earlier article is still there
    # The half-done one was either discarded or, its file being complete, indexed on restart.
    assert now - titles in (
        set(),
        {"U.S. and Mexico strike preliminary trade pact, leaving Canada to catch up"},
    )
    for article in after.articles():
        assert article.passage_count > 0


def test_a_flipped_byte_is_caught_by_the_checksum(data_dir: Path) -> None:
    engine = reopen(data_dir)
    current = engine.index.directory
    engine.index.close()
    vectors = current / "passage_vectors.npy"
    raw = bytearray(vectors.read_bytes())
    raw[-1] ^= 0xFF  # same size, different content
    vectors.write_bytes(bytes(raw))
    after = reopen(data_dir)
    assert after.index.directory != current


def test_an_unwritable_data_dir_gives_a_clear_error_and_changes_nothing(data_dir: Path) -> None:
    """The articles folder replaced by a file stands in for a read-only or full disk (root
    ignores permission bits, so chmod can't be used here)."""
    engine = reopen(data_dir)
    before = {a.id for a in engine.articles()}
    build = engine.index.directory
    articles = data_dir / "articles"
    for path in articles.iterdir():
        path.unlink()
    articles.rmdir()
    articles.write_text("not a directory")
    with pytest.raises(StorageError) as caught:
        engine.ingest_path(OTHER)
    assert str(caught.value).startswith("could not save the article in the data directory")
    assert "\n" not in str(caught.value)
    assert engine.index.directory == build and {a.id for a in engine.articles()} == before


def test_disk_full_while_writing_the_index(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.index as index_module

    engine = reopen(data_dir)
    before = sorted(p.name for p in (data_dir / "articles").iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_module.np, "save", disk_full)
    with pytest.raises(StorageError, match="No space left on device"):
        engine.ingest_path(OTHER)
    assert sorted(p.name for p in (data_dir / "articles").iterdir()) == before
    assert not [p for p in engine.storage.builds.iterdir() if p.name.startswith(".tmp-")]


def test_concurrent_writers_are_serialised(data_dir: Path) -> None:
    """Two admins ingesting at once, plus a reader: both ingests land, the index is consistent."""
    engine = reopen(data_dir)
    paths = [OTHER, ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"]
    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()

    def ingest(path: Path) -> None:
        try:
            engine.ingest_path(path)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        while not stop.is_set():
            answers.append(len(engine.search("dairy concessions").hits))
            time.sleep(0.005)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=ingest, args=(p,)) for p in paths]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert not errors
    assert answers and all(n > 0 for n in answers)
    fresh = reopen(data_dir)
    assert len(fresh.articles()) == 4
    assert sum(a.passage_count for a in fresh.articles()) == len(fresh.index)
