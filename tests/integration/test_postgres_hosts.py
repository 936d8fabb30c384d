"""Several hosts on one PostgreSQL database, each with its own cache directory: what one host
writes, the others answer; a host killed mid-write leaves its article all in or all out; a
database restart is refused politely and recovered from; a lost NOTIFY is made up for by the
generation check. Host A runs in a real separate process; host B in this one. The server is a
real PostgreSQL (a throwaway one, or ``TRADETALK_TEST_DATABASE_URL``'s)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from errors import IndexBusy, StoreUnavailable, TradeTalkError
from storage.postgres.backend import PostgresBackend
from storage.postgres.store import PostgresStore
from tenancy import Libraries
from tradetalk.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
FIRST = ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
QUESTION = "What did the preliminary deal between the U.S. and Mexico settle?"
OTHER_TITLE = "U.S. and Mexico strike preliminary trade pact, leaving Canada to catch up"

HOST = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from pathlib import Path
    from conftest import HashingEncoder
    from config.settings import Settings
    from tradetalk.engine import Engine

    class SlowEncoder(HashingEncoder):
        def encode(self, texts, *, batch_size=64):
            print("embedding", flush=True)
            time.sleep(0.3)  # a slow model: time to be killed mid-write
            return super().encode(texts, batch_size=batch_size)

    engine = Engine(Settings(data_dir={data!r}, database_url={url!r}), encoder=SlowEncoder())
    engine.open()
    print("ready", flush=True)
    command = sys.argv[1]
    if command == "ingest":
        result = engine.ingest_path(Path(sys.argv[2]))
        print("ingested", result.article.id, flush=True)
    elif command == "remove":
        engine.remove(sys.argv[2])
        print("removed", flush=True)
    elif command == "hold":  # hold the write lock until killed
        with engine.store.lock():
            print("holding", flush=True)
            time.sleep(600)
    print("finished", flush=True)
    """
)


def host(data: Path, url: str, *args: str, crash_at: str | None = None) -> subprocess.Popen:
    """Host A: a separate process with its own cache (`data`), on the database `url`."""
    script = HOST.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data), url=url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env["HF_HUB_OFFLINE"] = "1"
    if crash_at:
        env["TRADETALK_TEST_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=data.parent,
    )


def run_host(data: Path, url: str, *args: str) -> str:
    process = host(data, url, *args)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def engine_on(data: Path, url: str, **kwargs) -> Engine:
    engine = Engine(Settings(data_dir=data, database_url=url), encoder=HashingEncoder(), **kwargs)
    engine.open()
    return engine


def article_rows(url: str, article_id: str) -> tuple[int, int]:
    """(stored articles, indexed passages in the current build) of `article_id`, straight from
    the database."""
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM lib_global.articles WHERE article_id = %s", (article_id,)
        ).fetchone()[0]
        manifest = conn.execute(
            "SELECT b.manifest FROM lib_global.builds b JOIN tradetalk.libraries l "
            "ON l.build = b.name WHERE l.id = 'global'"
        ).fetchone()[0]
        passages = 0
        for entry in manifest["segments"]:
            if article_id in entry.get("removed", []):
                continue
            passages += conn.execute(
                "SELECT count(*) FROM lib_global.passages WHERE segment = %s AND article_id = %s",
                (entry["id"], article_id),
            ).fetchone()[0]
    return stored, passages


class Asker(threading.Thread):
    """Host B's members asking without pause while something happens elsewhere."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.answers = 0
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.engine.ask(QUESTION)
                self.answers += 1
            except BaseException as exc:
                self.errors.append(exc)
            time.sleep(0.02)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)


def test_an_article_ingested_on_host_a_is_answered_on_host_b(tmp_path: Path, database_url: str):
    b = engine_on(tmp_path / "b", database_url)
    assert not [a for a in b.articles() if not a.bundled]
    out = run_host(tmp_path / "a", database_url, "ingest", str(OTHER))
    article_id = out.split("ingested ", 1)[1].split()[0]
    # No waiting: the generation check before B's next question finds A's build.
    hits = b.ask(QUESTION).hits
    assert hits[0].article.id == article_id
    assert article_id in {a.id for a in b.articles()}
    # And the other way round: B removes it, A's next start no longer has it.
    b.remove(article_id)
    assert article_rows(database_url, article_id) == (0, 0)
    a = engine_on(tmp_path / "a", database_url)
    assert article_id not in {x.id for x in a.articles()}


KILL_STEPS = [
    "embedding",  # killed by the test while the model runs
    "article-file-written",
    "segment-files-written",
    "segment-written",
    "manifest-written",
    "build-renamed",
    "database-commit",
    "current-switched",
]


@pytest.mark.parametrize("step", KILL_STEPS)
def test_host_a_killed_mid_ingest_leaves_the_article_all_or_nothing(
    tmp_path: Path, database_url: str, step: str
):
    b = engine_on(tmp_path / "b", database_url)
    b.ingest_path(FIRST)  # something of its own already there
    asker = Asker(b)
    asker.start()
    process = host(
        tmp_path / "a",
        database_url,
        "ingest",
        str(OTHER),
        crash_at=None if step == "embedding" else step,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if step == "embedding" and line.strip() == "embedding":
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    time.sleep(0.3)
    asker.finish()
    assert process.returncode == -signal.SIGKILL
    assert asker.errors == [] and asker.answers > 0  # B answered throughout
    committed = step == "current-switched"  # the transaction committed just before the switch
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT count(*) FROM lib_global.articles").fetchone()[0]
    assert stored == (2 if committed else 1)
    served = [a for a in b.articles() if a.title == OTHER_TITLE]
    assert len(served) == (1 if committed else 0)
    if committed:  # all in: its stored bytes and every passage, in the current build
        assert article_rows(database_url, served[0].id) == (1, served[0].passage_count)
    # The dead host's lock went with its connection: the next write, from either host, works.
    result = b.ingest_path(OTHER)
    assert result.status == ("unchanged" if committed else "added")
    assert article_rows(database_url, result.article.id) == (1, result.article.passage_count)
    again = engine_on(tmp_path / "a", database_url)  # host A restarts on its leftover cache
    assert {a.id for a in again.articles()} == {a.id for a in b.articles()}
    assert again.ask(QUESTION).hits[0].article.id == result.article.id


def test_the_database_restarted_while_answering(tmp_path: Path, postgres_server, database_url):
    b = engine_on(tmp_path / "b", database_url)
    b.ingest_path(OTHER)
    asker = Asker(b)
    asker.start()
    time.sleep(0.3)
    postgres_server.restart()
    time.sleep(1.0)
    asker.finish()
    unexpected = [e for e in asker.errors if not isinstance(e, StoreUnavailable)]
    assert unexpected == []  # refusals only, each one line
    for error in asker.errors:
        assert "temporarily unavailable" in str(error) and "\n" not in str(error)
    # Recovered by itself, without a restart: questions and writes work again.
    deadline = time.monotonic() + 20
    while True:
        try:
            assert b.ask(QUESTION).hits[0].article.id.startswith("2018-08-27")
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline, "never recovered"
            time.sleep(0.2)
    assert b.ingest_path(FIRST).status == "added"
    assert b.remove(b.ingest_path(FIRST).article.id)


def test_the_database_down_refuses_questions_politely(
    tmp_path: Path, postgres_server, database_url
):
    b = engine_on(tmp_path / "b", database_url)
    postgres_server.stop()
    try:
        with pytest.raises(StoreUnavailable, match="temporarily unavailable"):
            b.ask(QUESTION)
        with pytest.raises(TradeTalkError):
            b.ingest_path(OTHER)
    finally:
        postgres_server.start()
    assert b.ask(QUESTION).hits


def test_a_lost_notify_is_caught_by_the_generation_check(tmp_path: Path, database_url: str):
    deaf = PostgresBackend(database_url, listen=False)  # hears no NOTIFY at all
    try:
        store = PostgresStore(
            deaf, "global", tmp_path / "b" / "cache", bundled_dir=None, max_bytes=2_000_000
        )
        b = Engine(Settings(data_dir=tmp_path / "b"), encoder=HashingEncoder(), store=store)
        b.open()
        run_host(tmp_path / "a", database_url, "ingest", str(OTHER))
        assert store.heard is None
        assert b.ask(QUESTION).hits[0].article.id.startswith("2018-08-27")
    finally:
        deaf.close()


def test_listen_fetches_another_hosts_build_before_the_next_question(
    tmp_path: Path, database_url: str
):
    b = engine_on(tmp_path / "b", database_url)
    backend = b.store.backend  # type: ignore[attr-defined]
    assert backend.listening.wait(10)
    out = run_host(tmp_path / "a", database_url, "ingest", str(OTHER))
    name = b.store.current_name()
    deadline = time.monotonic() + 10
    while b.storage.current_name() != name:  # fetched into B's cache with no question asked
        assert time.monotonic() < deadline, "the NOTIFY was not acted on"
        time.sleep(0.05)
    assert b.store.heard == name  # type: ignore[attr-defined]
    assert "ingested" in out


def test_a_write_on_one_host_waits_for_none_on_another(tmp_path: Path, database_url: str):
    b = engine_on(tmp_path / "b", database_url)
    holder = host(tmp_path / "a", database_url, "hold")
    try:
        assert holder.stdout is not None
        for line in holder.stdout:
            if line.strip() == "holding":
                break
        with pytest.raises(IndexBusy):
            b.ingest_bytes(OTHER.read_bytes(), OTHER.name, wait=False)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert b.ingest_path(OTHER).status == "added"  # its lock went with its connection


def test_an_empty_host_fetches_only_the_libraries_it_is_asked_about(
    tmp_path: Path, database_url: str
):
    settings_a = Settings(data_dir=tmp_path / "a", database_url=database_url)
    a = Libraries(settings_a, encoder=HashingEncoder())
    a.open()
    for server in (101, 202, 303):
        a.ingest_bytes(server, OTHER.read_bytes(), OTHER.name)
    a.close()
    settings_b = Settings(data_dir=tmp_path / "b", database_url=database_url)
    b = Libraries(settings_b, encoder=HashingEncoder())
    b.open()
    answer = b.ask(202, QUESTION)
    assert "server" in {hit.article.library for hit in answer.hits}  # its own article found
    cached = sorted(p.name for p in settings_b.library_cache.iterdir())
    assert cached == ["202", "global"]
    b.close()
