"""Killed mid-write (SIGKILL) and other faults: the previous index keeps serving, no article is
lost, nothing half-written is used. The writer runs in a real subprocess that is really killed."""

from __future__ import annotations

import errno
import json
import os
import shutil
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
from retrieval import crashpoints
from retrieval.manifest import read_manifest
from tradetalk.engine import Engine
from tradetalk.errors import StorageError

# Each test runs on the local store and again on PostgreSQL (conftest.store_kind).
pytestmark = [pytest.mark.usefixtures("store_kind")]

ROOT = Path(__file__).resolve().parents[2]
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
THIRD = ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"

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
    newest = engine.index.segments[-1].directory  # the added article's segment
    engine.index.close()
    vectors = newest / "passage_vectors.npy"
    raw = bytearray(vectors.read_bytes())
    raw[-1] ^= 0xFF  # same size, different content
    vectors.write_bytes(bytes(raw))
    after = reopen(data_dir)
    assert after.index.directory != current


def test_an_unwritable_data_dir_gives_a_clear_error_and_changes_nothing(
    data_dir: Path, store_kind: str
) -> None:
    """A folder replaced by a file stands in for a read-only or full disk (root ignores
    permission bits, so chmod can't be used here): the articles folder of the local store, or
    the segments folder of a host's cache on PostgreSQL."""
    engine = reopen(data_dir)
    before = {a.id for a in engine.articles()}
    sources = set(engine.library.scan())
    build = engine.index.directory
    blocked = data_dir / "articles" if store_kind == "local" else engine.storage.segments
    for path in blocked.iterdir():
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink()
    blocked.rmdir()
    blocked.write_text("not a directory")
    with pytest.raises(StorageError) as caught:
        engine.ingest_path(OTHER)
    action = "save the article" if store_kind == "local" else "write the index"
    assert str(caught.value).startswith(f"could not {action} in the data directory")
    assert "\n" not in str(caught.value)
    assert engine.index.directory == build and {a.id for a in engine.articles()} == before
    if store_kind == "postgres":  # (locally, the test itself took the article files away)
        assert set(engine.library.scan()) == sources  # no article stored


def test_disk_full_while_writing_the_index(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.index as index_module

    engine = reopen(data_dir)
    before = sorted(engine.library.scan())  # the article files, or the database's articles

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_module.np, "save", disk_full)
    with pytest.raises(StorageError, match="no space left on the data disk"):
        engine.ingest_path(OTHER)
    assert sorted(engine.library.scan()) == before
    for folder in (engine.storage.builds, engine.storage.segments):
        assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


# A writer on a disk that really is full: a small tmpfs, mounted in a user and mount namespace
# of its own (`unshare`, no root needed), filled to leave `free_kb`.
FULL_DISK = textwrap.dedent(
    """
    import json, os, shutil, sys
    from pathlib import Path
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import HashingEncoder
    from config.settings import Settings
    from errors import TradeTalkError
    from tradetalk.engine import Engine

    mount, source, free_kb, action, article = sys.argv[1:6]
    data = Path(mount) / "data"
    shutil.copytree(source, data, symlinks=True)
    room = os.statvfs(mount)
    fd = os.open(Path(mount) / "filler", os.O_CREAT | os.O_WRONLY)
    os.posix_fallocate(fd, 0, room.f_bavail * room.f_frsize - int(free_kb) * 1024)
    os.close(fd)

    def state():
        files = sorted(p.name for p in (data / "articles").glob("*"))
        index = data / "index"
        left = [p.name for d in ("builds", "segments") for p in (index / d).glob(".*")]
        return os.readlink(index / "current"), files, left

    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    before, served = state(), sorted(engine.index.articles)
    try:
        if action == "ingest":
            engine.ingest_bytes(Path(article).read_bytes(), "report.md")
        else:
            engine.rebuild()
        message = None
    except TradeTalkError as exc:
        message = str(exc)
    engine.close()
    again = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    again.open()
    print(json.dumps(dict(
        message=message, before=before, after=state(), served=served,
        reopened=sorted(again.index.articles),
    )))
    """
)


def on_a_small_disk(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run `script` (``sys.argv[1]`` the mount point, then `args`) in a user and mount
    namespace of its own with a 16 MB tmpfs mounted: a disk the test can fill for real without
    root. Skips where user namespaces are refused."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs")
    mount = tmp_path / "disk"
    mount.mkdir()
    run = subprocess.run(
        [
            "unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount -t tmpfs -o size=16m tmpfs "$1" && shift && exec "$@"', "sh",
            str(mount), sys.executable, "-c", script, str(mount), *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    if run.returncode != 0 and "Traceback" not in run.stderr:  # unshare or mount refused
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr[-3000:]
    return run


AUDIT_ON_A_FULL_DISK = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path[:0] = [{root!r}]
    from tradetalk.audit import AuditLog

    mount = Path(sys.argv[1])
    log = AuditLog(mount / "audit.sqlite")
    log.record("cli:admin", "ingest", "a", "ok")
    room = os.statvfs(mount)
    fd = os.open(mount / "filler", os.O_CREAT | os.O_WRONLY)
    os.posix_fallocate(fd, 0, room.f_bavail * room.f_frsize)
    os.close(fd)
    try:
        log.record("cli:admin", "ingest", "b", "failed", "no space left " * 30)
    except OSError as exc:
        print("OSError", exc.errno)
    """
)


def test_an_audit_log_on_a_full_disk_fails_as_an_io_error(tmp_path: Path) -> None:
    """Its callers (the bot's `audited`, the CLI's `audit`) log an `OSError` and go on; SQLite's
    own "database or disk is full" used to escape them and replace the error the admin was
    being told (the bot said "Something went wrong")."""
    run = on_a_small_disk(tmp_path, AUDIT_ON_A_FULL_DISK.format(root=str(ROOT)))
    assert run.stdout.split() == ["OSError", str(errno.ENOSPC)]


def _long_report(path: Path) -> Path:
    """A 430 KB article of 1,000 paragraphs: its segment (vectors, FAISS index, records) takes
    a few MB, so each of the writers can be the one that meets the full disk."""
    import random

    words = "negotiators tariff dairy quota panel lumber steel autos officials offer".split()
    rng = random.Random(7)
    paragraphs = [
        " ".join(" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(5))
        for _ in range(1000)
    ]
    head = "---\ntitle: A long report on the talks\nsource: Wire\ndate: 2018-09-05\n---\n\n"
    path.write_text(head + "\n\n".join(paragraphs) + "\n")
    return path


@pytest.mark.parametrize(
    ("action", "free_kb"),
    [
        pytest.param("ingest", 200, id="ingest-article-file"),
        pytest.param("ingest", 600, id="ingest-faiss-index"),
        pytest.param("ingest", 800, id="ingest-numpy-vectors"),
        pytest.param("ingest", 1800, id="ingest-numpy-sentence-vectors"),
        pytest.param("ingest", 2700, id="ingest-sqlite-records"),
        pytest.param("rebuild", 150, id="rebuild-faiss-index"),
        pytest.param("rebuild", 1000, id="rebuild-numpy-vectors"),
        pytest.param("rebuild", 2000, id="rebuild-sqlite-records"),
    ],
)
# The local store's writers on a small disk; on PostgreSQL the library lives in the database and
# a host's disk holds only its cache, so these sizes don't reach the same writers.
@pytest.mark.parametrize("store_kind", ["local"], indirect=True)
def test_a_really_full_disk_says_so_and_changes_nothing(
    tmp_path: Path, action: str, free_kb: int
) -> None:
    """With 0.2-2.7 MB free, the write fails in whichever writer meets the full disk (the
    article file, FAISS, NumPy, SQLite: three of them lose the errno) and the admin reads one
    line saying so, never "unexpected failure" or "384000 requested and 178144 written";
    nothing changed, nothing half-written left."""
    article = _long_report(tmp_path / "report.md")
    source = tmp_path / "source"
    engine = Engine(Settings(data_dir=source), encoder=HashingEncoder())
    engine.open()
    if action == "rebuild":  # a library that holds the report: the rebuild rewrites it all
        engine.ingest_path(article)
    engine.close()
    run = on_a_small_disk(
        tmp_path,
        FULL_DISK.format(root=str(ROOT), tests=str(ROOT / "tests")),
        str(source),
        str(free_kb),
        action,
        str(article),
    )
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert outcome["message"] in (
        "could not save the article: no space left on the data disk",
        "could not write the index: no space left on the data disk",
    ), outcome["message"]
    assert outcome["after"] == outcome["before"]  # the same build and files, no leftovers
    assert outcome["before"][2] == []
    assert outcome["reopened"] == outcome["served"]


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


# -- killed at every step of a write ----------------------------------------------------------

STEP_WRITER = textwrap.dedent(
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
        engine.ingest_path(Path(sys.argv[2]))
    elif sys.argv[1] == "merge":
        assert engine.merge() == 1, "a merge was due"
    elif sys.argv[1] == "merge-remove":
        assert engine.merge() == 1, "a merge was due"
        engine.remove(sys.argv[2])  # its build is the first without the merged-away segments
    else:
        engine.remove(sys.argv[2])
    print("finished", flush=True)
    """
)
BUILD_STEPS = ["build-files-written", "manifest-written", "build-renamed", "current-switched"]
WRITES = [
    ("ingest", "article-file-written"),
    ("ingest", "segment-files-written"),
    ("ingest", "segment-written"),
    *(("ingest", s) for s in BUILD_STEPS),
    ("ingest", "old-build-removal"),
    ("remove", "article-file-removed"),
    *(("remove", s) for s in BUILD_STEPS),
    ("remove", "old-build-removal"),
    # Three small segments on disk (two ingests on the bundled article): a merge is due.
    ("merge", "merge-files-written"),
    ("merge", "merge-written"),
    ("merge", "segment-written"),
    *(("merge", s) for s in BUILD_STEPS),
    ("merge", "old-build-removal"),
    ("merge-remove", "old-segment-removal"),
]


def test_every_step_of_a_write_is_covered() -> None:
    assert {step for _, step in WRITES} == set(crashpoints.STEPS)


def served_and_filed(data: Path) -> tuple[Engine, set[str], set[str]]:
    """A restarted engine, the ids it serves (added articles only) and the ids of the article
    files on disk, read as the library reads them."""
    engine = reopen(data)
    served = {a.id for a in engine.articles() if not a.bundled}
    filed = {engine.library.read(s).id for s in engine.library.scan().values() if not s.bundled}
    return engine, served, filed


@pytest.mark.parametrize(("operation", "step"), WRITES, ids=[f"{o}-{s}" for o, s in WRITES])
def test_killed_at_any_step_of_a_write(data_dir: Path, operation: str, step: str) -> None:
    """SIGKILL at each named step (TRADETALK_TEST_CRASH_AT, `retrieval.crashpoints`): the
    restart serves the previous complete build's articles or the new ones, every article file
    is indexed and every indexed article has its file, and no leftover is kept."""
    first = reopen(data_dir)
    first.ingest_path(OTHER)  # a second added article, and a third build, so old ones get pruned
    before = {a.id for a in first.articles() if not a.bundled}
    removed = next(a.id for a in first.articles() if "preliminary" in a.title.lower())
    first.close()
    if operation == "ingest":
        target, after = str(THIRD), before | {reopen_id(THIRD)}
    elif operation == "merge":  # the same articles, in fewer segments
        target, after = "", before
    else:
        target, after = removed, before - {removed}
    script = STEP_WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data_dir))
    run = subprocess.run(
        [sys.executable, "-c", script, operation, target],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=data_dir.parent,
        env={**os.environ, "TRADETALK_TEST_CRASH_AT": step},
    )
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr  # it did die at `step`
    assert "finished" not in run.stdout

    engine, served, filed = served_and_filed(data_dir)
    assert served in (before, after)  # the previous complete build, or the new one
    if crashpoints.STEPS.index(step) >= crashpoints.STEPS.index("current-switched"):
        assert served == after  # once `current` is switched, the write has happened
    assert served == filed  # every article file accounted for, and nothing without one
    for folder in (engine.storage.builds, engine.storage.segments):
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
        assert not leftovers  # no .tmp-, .old- or .merging- directory survives a restart
    # Every segment on disk is one a kept build lists, and every one listed is whole.
    listed = {e.id for b in engine.storage.complete_builds() for e in read_manifest(b).segments}
    assert {p.name for p in engine.storage.segments.iterdir()} == listed
    current = engine.storage.current_link  # the data dir's index, or this host's cache of it
    assert (
        current.is_symlink() and engine.index.directory.name == os.readlink(current).split("/")[-1]
    )
    assert sum(a.passage_count for a in engine.articles()) == len(engine.index)
    assert engine.search("dairy").hits
    # The next write (and the next start) go on from there.
    engine.ingest_path(ARTICLES / "2018-09-26-continental-press-trump-rebuffs-trudeau.md")
    _, served_again, filed_again = served_and_filed(data_dir)
    assert (
        served_again
        == filed_again
        == served | {reopen_id(ARTICLES / "2018-09-26-continental-press-trump-rebuffs-trudeau.md")}
    )


def reopen_id(path: Path) -> str:
    from corpus.articles import read_article

    return read_article(path, max_bytes=10_000_000).id


def test_an_unset_crash_hook_stops_nothing(data_dir: Path) -> None:
    """The same write with the variable unset runs to the end."""
    env = {k: v for k, v in os.environ.items() if k != "TRADETALK_TEST_CRASH_AT"}
    script = STEP_WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data_dir))
    run = subprocess.run(
        [sys.executable, "-c", script, "ingest", str(THIRD)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=data_dir.parent,
        env=env,
    )
    assert run.returncode == 0 and "finished" in run.stdout, run.stderr
