"""The feed commands of ``tradetalk`` (follow, feeds, poll, unfollow) and ``ingest URL``, with
the real model, against the local news site: what a cron user sees, and one clear line for
each failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ARTICLES
from feeds_site import CARS, CHEESE, PANELS, NewsSite, serving_in_thread
from typer.testing import CliRunner

from tradetalk.cli import app

pytestmark = pytest.mark.model


@pytest.fixture
def site():
    with serving_in_thread(NewsSite()) as served:
        yield served


@pytest.fixture
def cli(tmp_path: Path, real_encoder, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    runner = CliRunner()
    monkeypatch.setenv("TRADETALK_ALLOW_PRIVATE_URLS", "true")  # the site is on 127.0.0.1

    def run(*args: str):
        return runner.invoke(app, ["--data-dir", str(data), *args])

    return run


def test_follow_poll_feeds_and_unfollow(cli, site: NewsSite) -> None:
    followed = cli("follow", site.url("rss.xml"), "--interval", "45")
    assert followed.exit_code == 0, followed.output
    assert followed.stdout.strip() == (
        f"following: {site.url('rss.xml')} (Harbour Times: Trade), every 45 min"
    )
    assert "0 articles; last success never" in cli("feeds").stdout

    polled = cli("poll")
    assert polled.exit_code == 0, polled.output
    out = polled.stdout
    assert f"new items (2 new): {site.url('rss.xml')}" in out
    assert f"— {CHEESE.title}" in out and f"— {PANELS.title}" in out
    assert "New from the feeds: 2 articles" in out
    assert f"“{CHEESE.title}” — 127.0.0.1, as Harbour Times, 2018-09-20" in out
    assert "New developments on: " in out and "Dairy" in out

    listed = cli("feeds").stdout
    assert "2 articles; last success 20" in listed and "every 45 min" in listed
    answer = cli("ask", "How many tonnes of cheese would the latest offer let in duty free?")
    assert "18,500 tonnes" in answer.stdout

    assert "No feed is due" in cli("poll").stdout  # the next poll is 45 minutes away
    again = cli("poll", "--all").stdout
    assert f"not modified: {site.url('rss.xml')}" in again and "added:" not in again
    assert "New from the feeds" not in again  # each digest once

    gone = cli("unfollow", site.url("rss.xml"))
    assert gone.exit_code == 0 and "(2 articles kept)" in gone.stdout
    unknown = cli("unfollow", site.url("rss.xml"))
    assert unknown.exit_code == 1
    assert (
        unknown.stderr.strip()
        == f"error: {site.url('rss.xml')} is not followed (see the list of feeds)"
    )


def test_following_something_that_is_not_a_feed_is_one_line(cli, site: NewsSite) -> None:
    for path in ("broken.xml", "news/cheese-quota.html"):
        result = cli("follow", site.url(path))
        assert result.exit_code == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and "not an RSS, Atom or RDF feed" in line
    assert "No feeds followed" in cli("feeds").stdout


def test_ingest_takes_links_through_the_safe_fetcher(
    cli, site: NewsSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = site.url("news/rules-of-origin.html")
    other = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
    added = cli("ingest", link, str(other))  # a link and a file, one build
    assert added.exit_code == 0, added.output
    lines = added.stdout.strip().splitlines()
    assert any(line.startswith("added: 127-0-0-1-news-rules-of-origin-") for line in lines)
    assert any("preliminary" in line.lower() for line in lines)
    assert f"— {CARS.title}" in added.stdout
    assert cli("ingest", link).stdout.startswith("unchanged: ")
    articles = cli("articles").stdout
    assert "127.0.0.1, as Northbound Wire" in articles
    missing = cli("ingest", site.url("news/no-such-story.html"))
    assert missing.exit_code == 1 and "the server answered HTTP 404" in missing.stderr

    monkeypatch.setenv("TRADETALK_ALLOW_PRIVATE_URLS", "false")
    refused = cli("ingest", site.url("news/lumber-talks.html"))
    assert refused.exit_code == 1
    [line] = refused.stderr.strip().splitlines()
    assert "refused" in line and "127.0.0.1" in line


def test_feeds_are_per_server_with_the_global_server_option(
    cli, site: NewsSite, tmp_path: Path
) -> None:
    """`--server 1 follow` follows in server 1's library only: server 2 and the global library
    don't list it, its items go into server 1's library (answerable there, not elsewhere), and
    server 2 can't unfollow it."""
    followed = cli("--server", "1", "follow", site.url("rdf.xml"))
    assert followed.exit_code == 0, followed.output
    store = tmp_path / "data" / "servers" / "1" / "feeds.sqlite3"
    assert store.is_file()
    assert site.url("rdf.xml") in cli("--server", "1", "feeds").stdout
    assert "No feeds followed" in cli("--server", "2", "feeds").stdout
    assert "No feeds followed" in cli("feeds").stdout
    assert not (tmp_path / "data" / "servers" / "2").exists()  # looking creates nothing

    assert "No feed is due" in cli("--server", "2", "poll").stdout
    polled = cli("--server", "1", "poll")
    assert polled.exit_code == 0, polled.output
    assert f"— {CARS.title}" in polled.stdout

    question = "What share of a car's parts must come from North America?"
    assert "seventy-five percent" in cli("--server", "1", "ask", question).stdout
    assert "seventy-five percent" not in cli("ask", question).stdout
    assert "seventy-five percent" not in cli("--server", "2", "ask", question).stdout
    owned = cli("--server", "1", "articles").stdout
    assert "Northbound Wire" in owned

    refused = cli("--server", "2", "unfollow", site.url("rdf.xml"))
    assert refused.exit_code == 1 and "is not followed" in refused.stderr
    assert site.url("rdf.xml") in cli("--server", "1", "feeds").stdout
