"""A round of feed polling killed (SIGKILL, a real separate process) at each step around its
write, then a round run to the end: every item is in the library exactly once, none is lost,
and none whose article was already published is fetched or ingested again."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import HashingEncoder
from feeds_site import CARS, CHEESE, PANELS, NewsSite, serving_in_thread

from config.settings import Settings
from corpus.articles import fetched_article_id
from feeds.store import DIED, MAX_ATTEMPTS, FeedStore
from retrieval import crashpoints
from tradetalk.engine import Engine

ROOT = Path(__file__).resolve().parents[2]

ROUND = textwrap.dedent(
    """
    import asyncio, ipaddress, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import HashingEncoder
    from config.settings import Settings
    from corpus.fetch import ArticleFetcher, is_public_address
    from feeds.poll import FeedPoller
    from feeds.store import FeedStore
    from tradetalk.engine import Engine

    LOOPBACK = ipaddress.ip_address("127.0.0.1")
    engine = Engine(Settings(data_dir={data!r}), encoder=HashingEncoder())
    engine.open()

    async def main():
        allowed = lambda ip: ip == LOOPBACK or is_public_address(ip)
        async with ArticleFetcher(address_allowed=allowed, timeout=10) as fetcher:
            poller = FeedPoller(
                FeedStore(engine.settings.data_dir), engine, fetcher,
                max_items=20, max_feed_bytes=10_000_000,
            )
            report = await poller.run_round(every=True)
            print("recovered", *report.recovered, "ingested", len(report.ingested), flush=True)

    asyncio.run(main())
    print("finished", flush=True)
    """
)
# Around the round's write: items claimed; the article files saved; the segment written; the
# build switched; the build published but the items not yet marked ingested.
STEPS = [
    "feed-items-claimed",
    "article-file-written",
    "segment-written",
    "current-switched",
    "feed-items-ingested",
]
# From "article-file-written" on, the articles' files are saved whole: a restart indexes them
# (the engine brings the index in line with its article files), so the round's work is done.
SAVED = {"article-file-written", "segment-written", "current-switched", "feed-items-ingested"}


def run_round(data: Path, crash_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRADETALK_TEST_CRASH_AT"}
    if crash_at:
        env["TRADETALK_TEST_CRASH_AT"] = crash_at
    script = ROUND.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data))
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=data.parent,
        env=env,
    )


def test_the_steps_exist() -> None:
    assert set(crashpoints.FEED_STEPS) <= set(STEPS)
    assert set(STEPS) - set(crashpoints.FEED_STEPS) <= set(crashpoints.STEPS)


@pytest.mark.parametrize("step", STEPS)
def test_a_round_killed_at_any_step_loses_nothing_and_ingests_nothing_twice(
    tmp_path: Path, step: str
) -> None:
    data = tmp_path / "data"
    Engine(Settings(data_dir=data), encoder=HashingEncoder()).open()
    with serving_in_thread(NewsSite()) as site:
        store = FeedStore(data)
        for name in ("rss.xml", "rdf.xml"):
            store.follow(site.url(name), added_by="test", interval_s=600)
        store.close()
        links = [site.url(f"news/{s.slug}.html") for s in (CHEESE, PANELS, CARS)]

        killed = run_round(data, step)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        assert "finished" not in killed.stdout
        pages_before = {link: site.requests[link.split(site.base)[1]] for link in links}

        after = run_round(data, None)
        assert after.returncode == 0, after.stderr[-3000:]
        pages_after = {link: site.requests[link.split(site.base)[1]] for link in links}

    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder())
    engine.open()
    added = [a for a in engine.articles() if not a.bundled]
    # Each item is in the library exactly once, under the id its link gives.
    assert sorted(a.fetched_from for a in added) == sorted(links)
    assert {a.id for a in added} == {fetched_article_id(link) for link in links}
    store = FeedStore(data)
    items = store.items()
    assert sorted(i.link for i in items) == sorted(links)
    assert all(i.state == "ingested" for i in items), [(i.link, i.state) for i in items]
    assert {i.article_id for i in items} == {a.id for a in added}
    assert sum(f.article_count for f in store.feeds()) == 3  # counted once each
    recovered, back = (int(x) for x in after.stdout.split()[1:3])
    if step in SAVED:
        # Found in the library (published, or indexed from the saved files at the restart):
        # settled as ingested, not fetched or ingested again.
        assert (recovered, back) == (3, 0)
        assert "ingested 0" in after.stdout
        assert pages_after == pages_before
    else:
        # Nothing of it was published: what it had claimed waits again, and is ingested now.
        assert recovered == 0 and back >= 1
        assert "ingested 3" in after.stdout
    store.close()


def test_an_item_whose_every_round_dies_is_given_up(tmp_path: Path) -> None:
    """A page that kills the process each time it is taken (here: a kill right after the
    claim) must not kill every round after: after `MAX_ATTEMPTS` dead rounds its items are
    given up, with the reason, and the next round finishes."""
    data = tmp_path / "data"
    Engine(Settings(data_dir=data), encoder=HashingEncoder()).open()
    with serving_in_thread(NewsSite()) as site:
        store = FeedStore(data)
        store.follow(site.url("rss.xml"), added_by="test", interval_s=600)
        store.close()
        for _ in range(MAX_ATTEMPTS):
            killed = run_round(data, "feed-items-claimed")
            assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        after = run_round(data, None)
        assert after.returncode == 0, after.stderr[-3000:]
    assert "finished" in after.stdout and "ingested 0" in after.stdout
    store = FeedStore(data)
    items = store.items()
    assert len(items) == 2
    assert {(i.state, i.attempts) for i in items} == {("failed", MAX_ATTEMPTS)}
    store.close()
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        assert {r for (r,) in db.execute("SELECT reason FROM items")} == {DIED}
