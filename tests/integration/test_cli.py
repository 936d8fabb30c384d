"""The ``tradetalk`` command line, with the real model: answers, article management, and one
clear line on stderr (non-zero exit) for every failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTICLES
from typer.testing import CliRunner

from corpus.articles import read_article
from tradetalk.cli import app

pytestmark = pytest.mark.model
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"


@pytest.fixture
def cli(tmp_path: Path, real_encoder):
    data = tmp_path / "data"
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, ["--data-dir", str(data), *args], input=input)

    return run


def test_ask_prints_a_cited_answer(cli) -> None:
    result = cli("ask", "What blocks the deal?")
    assert result.exit_code == 0, result.output
    assert "m-i-l-k" in result.output or "core issues" in result.output
    assert "[1]" in result.output and "BNN Bloomberg" in result.output
    assert "https://www.bnnbloomberg.ca/" in result.output


def test_ask_json_stdin_contract(cli) -> None:
    questions = (
        "What blocks the deal?\nWho won the 2018 World Cup?\n\nWhen did NAFTA take effect?\n"
    )
    result = cli("ask", "--json", "-", input=questions)
    assert result.exit_code == 0, result.output
    replies = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["question"] for r in replies] == [
        "What blocks the deal?",
        "Who won the 2018 World Cup?",
        "When did NAFTA take effect?",
    ]
    first = replies[0]
    assert set(first) >= {"question", "answer", "abstained", "passages"}
    assert len(first["passages"]) == 5
    assert set(first["passages"][0]) >= {
        "rank",
        "text",
        "article_id",
        "title",
        "source",
        "date",
        "url",
        "score",
    }
    assert [p["rank"] for p in first["passages"]] == [1, 2, 3, 4, 5]
    assert replies[1]["abstained"] is True and replies[0]["abstained"] is False
    assert "1994" in replies[2]["answer"]


def test_article_management(cli, tmp_path: Path) -> None:
    added = cli("ingest", str(OTHER))
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("added: 2018-08-27-")
    article_id = added.stdout.split()[1]
    assert "unchanged" in cli("ingest", str(OTHER)).output
    listing = cli("articles")
    assert article_id in listing.output and "bundled" in listing.output
    answer = cli("ask", "--json", "What did the United States and Mexico agree on in August?")
    assert json.loads(answer.stdout)["passages"][0]["article_id"] == article_id
    assert cli("remove", article_id).exit_code == 0
    assert article_id not in cli("articles").output
    rebuilt = cli("index", "--rebuild")
    assert rebuilt.exit_code == 0 and "passages from 1 articles" in rebuilt.output
    trail = cli("audit").stdout.splitlines()
    assert [line.split()[2] for line in trail] == ["reindex", "remove", "ingest", "ingest"]
    assert f"remove {article_id}: ok" in trail[1] and "unchanged" in trail[2]


def test_ingest_a_folder(cli) -> None:
    result = cli("ingest", str(ARTICLES))
    assert result.exit_code == 0, result.output
    assert result.output.count("added:") == 7
    assert "near-duplicate of" in result.output


def test_a_batch_adds_each_file_it_can_and_reports_each_one_it_cannot(cli, tmp_path: Path) -> None:
    """Three articles, one with a 10,000-letter title (its id once passed the 255 bytes a file
    name may have: "unexpected I/O error" and none added) and one whose file can't be saved
    (a folder where it goes): four added, one line for the fifth, exit 1."""
    batch = tmp_path / "batch"
    batch.mkdir()
    for path in sorted(ARTICLES.glob("*.md"))[:3]:
        (batch / path.name).write_bytes(path.read_bytes())
    body = "Negotiators from both countries met again on Friday to talk about dairy quotas.\n"
    (batch / "long.md").write_text(f"---\ntitle: {'T' * 10_000}\ndate: 2018-09-09\n---\n\n{body}")
    blocked = batch / "z-blocked.md"
    blocked.write_text(f"---\ntitle: Blocked story\n---\n\n{body}Officials said so.\n")
    blocked_id = read_article(blocked, max_bytes=100_000).id
    (tmp_path / "data" / "articles" / f"{blocked_id}.md").mkdir(parents=True)
    result = cli("ingest", str(batch))
    assert result.exit_code == 1, result.output
    added = [line for line in result.stdout.splitlines() if line.startswith("added: ")]
    assert len(added) == 4
    long_id = next(line.split()[1] for line in added if "TTTT" in line)
    assert long_id.startswith("2018-09-09-tttt") and len(long_id) < 120
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {blocked}: could not save the article in the data directory: Is a directory"
    ]
    assert "Traceback" not in result.stderr
    listed = cli("articles").stdout
    assert long_id in listed and blocked_id not in listed


@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_lines_that_are_not_utf8_are_answered_and_the_batch_goes_on(
    tmp_path: Path, errors: str
) -> None:
    """`ask --json -` with a line that is not UTF-8, under a locale that reads stdin leniently
    and under one that reads it strictly; and the same bytes as an argument."""
    exe = Path(sys.executable).parent / "tradetalk"
    env = {
        **os.environ,
        "TRADETALK_DATA_DIR": str(tmp_path / "data"),
        "PYTHONIOENCODING": f"utf-8:{errors}",
    }
    lines = b"what blocks the deal?\ncaf\xe9 tariffs?\nwhat about autos?\n"
    run = subprocess.run(
        [str(exe), "ask", "--json", "-"], input=lines, capture_output=True, env=env, timeout=240
    )
    assert run.returncode == 0, run.stderr
    replies = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert [r["question"] for r in replies] == [
        "what blocks the deal?",
        "caf\ufffd tariffs?",
        "what about autos?",
    ]
    assert all(r["answer"] for r in replies) and not replies[0]["abstained"]
    one = subprocess.run(
        [str(exe), "ask", "--json", b"caf\xe9 tariffs?"], capture_output=True, env=env, timeout=240
    )
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["question"] == "caf\ufffd tariffs?"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["ingest", "missing.md"], "no such file"),
        ("empty-dir", ["ingest", "empty-dir"], "no article files in this folder"),
        ("binary.txt", ["ingest", "binary.txt"], "binary"),
        ("empty.md", ["ingest", "empty.md"], "empty"),
        ("huge.txt", ["ingest", "huge.txt"], "limit"),
        (None, ["remove", "no-such-article"], "no article with id"),
        (None, ["ask", ""], "Please ask a question"),
        (None, ["ask", "x" * 1200], "characters long"),
    ],
)
def test_failures_are_one_line_and_non_zero(cli, setup, args, message) -> None:
    if setup == "binary.txt":
        Path(setup).write_bytes(b"\x00\x01\x02" * 100)
    elif setup == "empty.md":
        Path(setup).write_bytes(b"")
    elif setup == "huge.txt":
        Path(setup).write_bytes(b"word " * 1_000_000)
    elif setup == "empty-dir":  # nothing TradeTalk reads: it used to exit 0 saying nothing
        Path(setup).mkdir()
        (Path(setup) / "report.pdf").write_bytes(b"%PDF-1.4")
    result = cli(*args)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_small_mistakes_are_one_line_and_make_nothing(cli, tmp_path: Path) -> None:
    """A folder ``servers/²`` (a digit to `str.isdigit`, no int) made `tradetalk servers` fail
    ("unexpected failure"), and so did ``purge-server ²``; a failed ``--server 8 unfollow``
    created ``servers/8``."""
    servers = tmp_path / "data" / "servers"
    (servers / "²").mkdir(parents=True)
    listed = cli("servers")
    assert listed.exit_code == 0 and "No server has a library here yet." in listed.stdout
    purged = cli("purge-server", "²")
    assert purged.exit_code == 2
    assert purged.stderr.strip() == "error: '²' is not a Discord server id (a number)"
    unfollowed = cli("--server", "8", "unfollow", "https://example.com/feed.xml")
    assert unfollowed.exit_code == 1
    assert unfollowed.stderr.strip() == (
        "error: https://example.com/feed.xml is not followed (see the list of feeds)"
    )
    assert "No feeds followed" in cli("--server", "8", "feeds").stdout
    assert sorted(p.name for p in servers.iterdir()) == ["²"]  # nothing made for server 8


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`tradetalk articles | head -1`: the pipe closes before everything is written. No
    "error: Broken pipe" and no exit 1: quiet, with a shell's status for SIGPIPE (141)."""
    exe = Path(sys.executable).parent / "tradetalk"
    env = {**os.environ, "TRADETALK_DATA_DIR": str(tmp_path / "data")}
    listing = subprocess.Popen(
        [str(exe), "articles"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # the reader is gone before the first line is written
    stderr = listing.stderr.read().decode()
    assert listing.wait(timeout=240) == 141, stderr
    assert "error" not in stderr.lower() and "Traceback" not in stderr


def test_a_bad_setting_is_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETALK_TOP_K", "0")
    result = cli("ask", "What blocks the deal?")
    assert result.exit_code == 2
    assert "TRADETALK_TOP_K" in result.stderr and "Traceback" not in result.output


def test_the_installed_entry_point_answers(tmp_path: Path) -> None:
    """The real console script in a subprocess: the path a newcomer takes."""
    exe = Path(sys.executable).parent / "tradetalk"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    env = {**os.environ, "TRADETALK_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run(
        [str(exe), "ask", "--json", "-"],
        input="Who did Freeland meet in Washington?\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr
    reply = json.loads(run.stdout.strip().splitlines()[-1])
    assert "Lighthizer" in reply["answer"]
    assert "Traceback" not in run.stderr


def test_eval_breaks_the_figures_down_by_kind_and_split(cli, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "a",
            "question": "What blocks the deal?",
            "kind": "vague",
            "split": "tune",
            "evidence": ["continues to block a deal"],
        },
        {
            "id": "b",
            "question": "Who won the 2018 World Cup?",
            "kind": "off-topic",
            "split": "tune",
            "evidence": None,
        },
        {
            "id": "c",
            "question": "What does the U.S. want on the Chapter 19 panels?",
            "kind": "what-position",
            "split": "test",
            "evidence": ["the U.S. wants to remove"],
        },
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = cli("eval", str(questions), "--json", "--split", "tune")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["answerable"] == 1 and figures["unanswerable"] == 1  # the tune half only
    assert set(figures["by_kind"]) == {"vague", "off-topic"}
    assert figures["by_kind"]["off-topic"]["abstain_recall"] == 1.0
    assert figures["by_kind"]["vague"]["answer_hit"] == 1.0
    table = cli("eval", str(questions))
    assert table.exit_code == 0 and "what-position" in table.output and "kind" in table.output
