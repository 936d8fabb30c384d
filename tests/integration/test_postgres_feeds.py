"""Two hosts polling one library's feeds at the same time (two real processes, each with its own
cache directory, one PostgreSQL database): every item is ingested exactly once, each page is
fetched once, and a round's lock held by a killed host goes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
from conftest import HashingEncoder
from feeds_site import CARS, CHEESE, PANELS, NewsSite, serving_in_thread

from config.settings import Settings
from corpus.articles import fetched_article_id
from tenancy.layout import feed_store_of
from tradetalk.engine import Engine

ROOT = Path(__file__).resolve().parents[2]

POLLER = textwrap.dedent(
    """
    import asyncio, ipaddress, sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import HashingEncoder
    from config.settings import Settings
    from corpus.fetch import ArticleFetcher, is_public_address
    from feeds.poll import FeedPoller
    from tenancy.layout import feed_store_of
    from tradetalk.engine import Engine

    LOOPBACK = ipaddress.ip_address("127.0.0.1")
    settings = Settings(data_dir={data!r}, database_url={url!r})
    engine = Engine(settings, encoder=HashingEncoder())
    engine.open()
    print("ready", flush=True)
    sys.stdin.readline()  # both hosts start their rounds together

    async def main():
        allowed = lambda ip: ip == LOOPBACK or is_public_address(ip)
        async with ArticleFetcher(address_allowed=allowed, timeout=10) as fetcher:
            poller = FeedPoller(
                feed_store_of(settings, None), engine, fetcher,
                max_items=1, max_feed_bytes=10_000_000,
            )
            for _ in range(6):  # one item per feed per round: several rounds to take them all
                report = await poller.run_round(every=True)
                print("round", "busy" if report.busy else len(report.ingested), flush=True)
                if sys.argv[1:] == ["hold"]:
                    with poller.store.round_lock() as ours:
                        print("holding", ours, flush=True)
                        time.sleep(600)
                await asyncio.sleep(0.05)

    asyncio.run(main())
    print("finished", flush=True)
    """
)


def poller(data: Path, url: str, *args: str) -> subprocess.Popen:
    script = POLLER.format(root=str(ROOT), tests=str(ROOT / "tests"), data=str(data), url=url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=data.parent,
    )


def wait_for_line(process: subprocess.Popen, wanted: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(wanted):
            return line
    raise AssertionError(
        f"never printed {wanted!r}: {process.stderr.read() if process.stderr else ''}"
    )


def test_two_hosts_polling_one_librarys_feeds_never_ingest_an_item_twice(
    tmp_path: Path, database_url: str
):
    settings = Settings(data_dir=tmp_path / "setup", database_url=database_url)
    Engine(settings, encoder=HashingEncoder()).open()
    with serving_in_thread(NewsSite()) as site:
        store = feed_store_of(settings, None)
        for name in ("rss.xml", "rdf.xml"):
            store.follow(site.url(name), added_by="test", interval_s=600)
        hosts = [poller(tmp_path / f"host-{n}", database_url) for n in "ab"]
        for process in hosts:
            wait_for_line(process, "ready")
        for process in hosts:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=180) for process in hosts]
        for process, (_out, err) in zip(hosts, outputs, strict=True):
            assert process.returncode == 0, err[-3000:]
        links = [site.url(f"news/{s.slug}.html") for s in (CHEESE, PANELS, CARS)]
        fetched = {link: site.requests[link.split(site.base)[1]] for link in links}

    engine = Engine(Settings(data_dir=tmp_path / "check", database_url=database_url),
                    encoder=HashingEncoder())  # fmt: skip
    engine.open()
    added = [a for a in engine.articles() if not a.bundled]
    assert sorted(a.fetched_from for a in added) == sorted(links)  # each item once
    assert {a.id for a in added} == {fetched_article_id(link) for link in links}
    assert all(count == 1 for count in fetched.values()), fetched  # each page fetched once
    items = store.items()
    assert all(i.state in ("ingested", "skipped") for i in items), [
        (i.link, i.state) for i in items
    ]
    assert sorted(i.link for i in items if i.state == "ingested") == sorted(links)
    assert sum(f.article_count for f in store.feeds()) == 3
    # Both hosts took part, or one found the other's round running: never both at once.
    rounds = [line for out, _ in outputs for line in out.splitlines() if line.startswith("round")]
    assert sum(int(r.split()[1]) for r in rounds if r.split()[1] != "busy") == 3
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM lib_global.articles").fetchone()[0] == 3


def test_a_killed_hosts_round_lock_goes_with_it(tmp_path: Path, database_url: str):
    settings = Settings(data_dir=tmp_path / "setup", database_url=database_url)
    Engine(settings, encoder=HashingEncoder()).open()
    store = feed_store_of(settings, None)
    store.follow("http://127.0.0.1:9/feed.xml", added_by="test", interval_s=600)
    holder = poller(tmp_path / "host-a", database_url, "hold")
    wait_for_line(holder, "ready")
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert wait_for_line(holder, "holding").split()[1] == "True"
    with store.round_lock() as ours:
        assert not ours  # held by host A, on another connection
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with store.round_lock() as ours:
        assert ours  # the server let it go with the dead host's connection
