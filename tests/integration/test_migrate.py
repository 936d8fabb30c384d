"""``tradetalk migrate --to postgres``: a data dir with a global library and two servers'
(articles, a removal, settings, audit entries, a followed feed) copied into a real PostgreSQL,
every article and vector accounted for, answerable from a host with an empty cache; run twice
it copies nothing more; a vector changed in the database is found by the check."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from conftest import ARTICLES, HashingEncoder
from typer.testing import CliRunner

from cli.main import app
from config.settings import Settings
from tenancy import Libraries
from tenancy.layout import feed_store_of
from tenancy.server_settings import ServerSettings

FILES = sorted(ARTICLES.glob("*.md"))
QUESTION = "What did the preliminary deal between the U.S. and Mexico settle?"


def local_data_dir(data: Path) -> dict:
    """A data dir as a bot leaves it; what it holds, per library."""
    libraries = Libraries(Settings(data_dir=data), encoder=HashingEncoder())
    libraries.open()
    libraries.ingest_bytes(None, FILES[0].read_bytes(), FILES[0].name)
    for server, files in ((11, FILES[1:4]), (22, FILES[2:5])):
        for path in files:
            libraries.ingest_bytes(server, path.read_bytes(), path.name)
        libraries.audit(server).record("discord:1 (admin)", "ingest", "x", "ok")
    gone = libraries.own_articles(11)[0].id
    libraries.remove(11, gone)
    libraries.save_settings(11, ServerSettings(channel_ids=(5, 6), cooldown_rate=7))
    feeds = feed_store_of(Settings(data_dir=data), 22)
    feeds.follow("https://example.com/feed.xml", added_by="test", interval_s=600, channel_id=9)
    feeds.close()
    held = {
        sid: (
            sorted((a.id, a.content_hash, a.passage_count) for a in libraries.own_articles(sid)),
            [h.record.id for h in libraries.ask(sid, QUESTION).hits],
        )
        for sid in (None, 11, 22)
    }
    libraries.close()
    return held


def test_migrate_copies_every_library_checked_and_twice_is_safe(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    data = tmp_path / "data"
    held = local_data_dir(data)
    monkeypatch.setenv("TRADETALK_DATABASE_URL", database_url)
    runner = CliRunner()
    first = runner.invoke(app, ["--data-dir", str(data), "migrate", "--to", "postgres"])
    assert first.exit_code == 0, first.output
    lines = first.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["global", "11", "22"]
    assert all(line.endswith("copied and checked") for line in lines[:3])
    assert "every article and vector accounted for" in lines[-1]

    # Another host, an empty cache, the database alone: the same articles, the same answers.
    host = Settings(data_dir=tmp_path / "other-host", database_url=database_url)
    libraries = Libraries(host, encoder=HashingEncoder())
    libraries.open()
    for sid, (articles, hits) in held.items():
        mine = sorted((a.id, a.content_hash, a.passage_count) for a in libraries.own_articles(sid))
        assert mine == articles
        assert [h.record.id for h in libraries.ask(sid, QUESTION).hits] == hits
    assert libraries.stored_settings(11).channel_ids == (5, 6)
    assert libraries.stored_settings(11).cooldown_rate == 7
    assert [e.action for e in libraries.audit(11).recent()] == ["ingest"]
    [feed] = feed_store_of(host, 22).feeds()
    assert feed.url == "https://example.com/feed.xml" and feed.channel_id == 9
    assert not feed_store_of(host, 11).tables.exists()
    libraries.close()

    second = runner.invoke(app, ["--data-dir", str(data), "migrate", "--to", "postgres"])
    assert second.exit_code == 0, second.output
    assert all("in the database already" in line for line in second.stdout.splitlines()[:3])
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM lib_11.audit").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM lib_22.feeds").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM lib_11.builds").fetchone()[0] == 1
        # A vector changed in the database: the next migration's check finds it.
        conn.execute(
            "UPDATE lib_22.passages SET vector = decode(repeat('00', 1536), 'hex') WHERE row = 0"
        )
    third = runner.invoke(app, ["--data-dir", str(data), "migrate", "--to", "postgres"])
    assert third.exit_code == 1
    assert "differences" in third.stderr and "22: segment" in third.stderr


def test_migrate_needs_a_database(tmp_path: Path):
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "migrate", "--to", "postgres"])
    assert result.exit_code == 2
    assert "TRADETALK_DATABASE_URL" in result.stderr
