"""Server libraries through the real CLI and in separate processes, with the real model.

``tradetalk --server 1 ingest x.md`` then ``tradetalk --server 2 ask …`` must not cite x.md;
a server without articles answers exactly as the global library does; another process writing
a server's library reaches a process serving it; each library has its own lock."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ARTICLES, FIXTURES, HashingEncoder
from typer.testing import CliRunner

from cli.main import app
from config.settings import Settings
from errors import IndexBusy
from tenancy import Libraries
from tenancy.layout import server_paths

# Each test runs on the local store and again on PostgreSQL (conftest.store_kind).
pytestmark = [pytest.mark.usefixtures("store_kind")]

ROOT = Path(__file__).resolve().parents[2]
PRAIRIE = ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"
NORTHERN = ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"
QUESTION = "How long will biologic drug data be protected?"


def tradetalk(data: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""):
    """The installed console script, a separate process on `data`."""
    exe = Path(sys.executable).parent / "tradetalk"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    run = subprocess.run(
        [str(exe), "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=240,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


@pytest.mark.model
def test_the_cli_keeps_each_servers_library_to_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Separate processes for the ingest and the questions, as a user runs them.
    added = tradetalk(data, "--server", "1", "ingest", str(PRAIRIE))
    assert added.returncode == 0 and added.stdout.startswith("added: "), added.stderr
    article_id = added.stdout.split()[1]
    run = tradetalk(data, "--server", "2", "ask", "--json", "-", stdin=f"{QUESTION}\n")
    other = json.loads(run.stdout)
    assert other["abstained"] and article_id not in run.stdout
    run = tradetalk(
        data, "ask", "--json", "-", stdin=f"{QUESTION}\n", env={"TRADETALK_SERVER": "1"}
    )
    own = json.loads(run.stdout)
    assert not own["abstained"] and "10 years" in own["answer"]
    [citation] = [c for c in own["citations"] if c["article_id"] == article_id]
    assert citation["library"] == "server"

    # The rest in this process (CliRunner): quicker, the same commands.
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["--data-dir", str(data), *args])
        assert "Traceback" not in result.output
        return result.output

    assert "10 years" not in cli("ask", QUESTION)  # the global library doesn't have it
    assert "— from this server's library" in cli("--server", "1", "ask", QUESTION)
    assert article_id in cli("--server", "1", "articles")
    assert cli("--server", "2", "articles") == "" and article_id not in cli("articles")
    assert "ingest" in cli("--server", "1", "audit") and cli("audit") == ""
    assert cli("servers").split("\t")[:2] == ["1", "1"]  # server 1, one article
    assert cli("purge-server", "1").startswith("purged server 1: 1 articles")
    assert not server_paths(data, 1).root.exists()
    assert "No server has a library here yet." in cli("servers")
    assert "purge-server 1: ok" in cli("audit")
    assert cli("purge-server", "1").startswith("error: no data for server 1")
    refused = runner.invoke(app, ["--data-dir", str(data), "--server", "../x", "articles"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output  # not a number


@pytest.mark.model
def test_a_server_without_articles_answers_the_seed_questions_as_the_global_library(
    tmp_path: Path, real_encoder
) -> None:
    libraries = Libraries(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    libraries.open()
    engine = libraries.global_engine
    # The committed copy of the seed questions: CI's clean clone has no ../shared beside it.
    seed = FIXTURES / "eval" / "seed_questions.jsonl"
    questions = [
        json.loads(line)["question"] for line in seed.read_text().splitlines() if line.strip()
    ]
    assert len(questions) >= 20
    for question in questions:
        alone = engine.ask(question)
        for served in (libraries.ask(None, question), libraries.ask(42, question)):
            assert served.text == alone.text, question
            assert served.abstained == alone.abstained
            assert [(h.record.id, round(h.score, 6)) for h in served.hits] == [
                (h.record.id, round(h.score, 6)) for h in alone.hits
            ]
            assert served.citations == alone.citations
    libraries.close()


OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from pathlib import Path
    from conftest import HashingEncoder
    from config.settings import Settings
    from tenancy import Libraries

    libraries = Libraries(Settings(data_dir={data!r}), encoder=HashingEncoder())
    libraries.open()
    server, path = int(sys.argv[1]), Path(sys.argv[2])
    print(libraries.ingest_bytes(server, path.read_bytes(), path.name).article.id)
    """
)


def test_another_process_writing_a_server_library_reaches_the_serving_process(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    libraries = Libraries(Settings(data_dir=data), encoder=HashingEncoder())
    libraries.open()
    libraries.ingest_bytes(7, NORTHERN.read_bytes(), NORTHERN.name)
    assert len(libraries.own_articles(7)) == 1 and libraries.loaded() == [7]
    script = OTHER_PROCESS.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data))
    done = subprocess.run(
        [sys.executable, "-c", script, "7", str(PRAIRIE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    added = done.stdout.strip()
    # The next look at server 7 follows the build the other process published ...
    assert {a.id for a in libraries.own_articles(7)} >= {added}
    answer = libraries.ask(7, QUESTION)
    assert added in {h.article.id for h in answer.hits}
    # ... and no other server's library has it.
    assert libraries.own_articles(8) == [] and added not in {
        h.article.id for h in libraries.ask(8, QUESTION).hits
    }
    libraries.close()


HOLD_LOCK = textwrap.dedent(
    """
    import fcntl, sys, time
    with open(sys.argv[1], "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def test_each_library_has_its_own_write_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    libraries = Libraries(Settings(data_dir=data), encoder=HashingEncoder())
    libraries.open()
    for server in (1, 2):
        libraries.ingest_bytes(server, NORTHERN.read_bytes(), NORTHERN.name)
    # The library's own lock file: in its index directory, or (PostgreSQL) in this host's cache,
    # taken after the library's advisory lock (test_postgres_hosts holds that one).
    lock = libraries.server(1).store.builds.root / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # Server 1's index is being written by another process: told at once ...
        with pytest.raises(IndexBusy):
            libraries.ingest_bytes(1, PRAIRIE.read_bytes(), PRAIRIE.name, wait=False)
        # ... while server 2 and the global library are not held up by it.
        assert libraries.ingest_bytes(2, PRAIRIE.read_bytes(), PRAIRIE.name, wait=False).status == (
            "added"
        )
        assert libraries.ingest_bytes(None, PRAIRIE.read_bytes(), PRAIRIE.name).status == "added"
        with lock.open("a") as handle, pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # still held over there
    finally:
        holder.communicate("\n", timeout=30)
    assert libraries.ingest_bytes(1, PRAIRIE.read_bytes(), PRAIRIE.name).status == "added"
    libraries.close()
