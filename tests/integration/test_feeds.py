"""Following feeds, against a local news site (`feeds_site`): RSS, Atom and RDF, conditional
GETs, a malformed feed, 10,000 items, a slow server, a link that redirects to a private address,
one story listed twice under two URLs; state that survives a restart.

The engine here uses the hashing test encoder (what is tested is the feed logic: fetching,
parsing, claiming, skipping, scheduling); `tests/e2e/test_bot_feeds.py` and the CLI test run
the same path with the real model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import HashingEncoder
from feeds_site import CARS, CHEESE, FERRY, LONG_PATH, LUMBER, PANELS, NewsSite, serving

import feeds.poll as poll_module
from corpus.articles import fetched_article_id
from corpus.fetch import ArticleFetcher, is_intranet_address
from feeds.digest import digest_text, pending_digests
from feeds.poll import FeedPoller, parse_feed
from feeds.store import JITTER, FeedStore
from tradetalk.errors import FeedError

INTERVAL = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def library(make_engine, hashing_encoder, tmp_path: Path, clock: Clock):
    """An engine (bundled article), its feed store, and a poller factory."""
    engine = make_engine(hashing_encoder)
    store = FeedStore(engine.settings.data_dir, clock=clock, rng=random.Random(1))

    def poller(fetcher: ArticleFetcher, max_items: int = 20) -> FeedPoller:
        return FeedPoller(store, engine, fetcher, max_items=max_items, max_feed_bytes=10_000_000)

    yield engine, store, poller
    store.close()


def fetcher(timeout: float = 5.0) -> ArticleFetcher:
    # The documented way to reach a test site on 127.0.0.1 (TRADETALK_ALLOW_PRIVATE_URLS):
    # loopback and private addresses are allowed, link-local (cloud metadata) ones never.
    return ArticleFetcher(allow_private=True, timeout=timeout)


def follow(store: FeedStore, site: NewsSite, *names: str) -> None:
    for name in names:
        store.follow(site.url(name), added_by="test", interval_s=INTERVAL)


def titles(engine) -> set[str]:
    return {a.title for a in engine.articles() if not a.bundled}


async def test_rss_atom_and_rdf_items_become_articles(library) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "rss.xml", "atom.xml", "rdf.xml")
        report = await poller(f).run_round()
    assert {o.status for o in report.feeds} == {"new items"}
    # PANELS is in both the RSS and the Atom feed: one article; the second feed's item is
    # known by its link as soon as it is listed, and never fetched.
    assert titles(engine) == {CHEESE.title, PANELS.title, LUMBER.title, CARS.title}
    assert len(report.ingested) == 4
    panels = sorted(i.state for i in store.items() if i.link.endswith("dispute-panels.html"))
    assert panels == ["ingested", "skipped"]
    assert site.requests["/news/dispute-panels.html"] == 1
    cheese = next(a for a in engine.articles() if a.title == CHEESE.title)
    assert cheese.fetched_from == site.url("news/cheese-quota.html")
    assert cheese.source == "127.0.0.1, as Harbour Times"
    assert cheese.date == "2018-09-20"
    assert (
        engine.search("How many tonnes of cheese would come in duty free?").hits[0].article.id
        == cheese.id
    )
    feeds = {f.url: f for f in store.feeds()}
    # Polled in order (atom, rdf, rss): the panels story counts for the Atom feed, which
    # listed it first.
    assert [feeds[site.url(n)].article_count for n in ("atom.xml", "rdf.xml", "rss.xml")] == [
        2,
        1,
        1,
    ]
    assert feeds[site.url("rss.xml")].title == "Harbour Times: Trade"
    assert feeds[site.url("rss.xml")].last_success_at and not feeds[site.url("rss.xml")].last_error


async def test_a_second_poll_is_conditional_and_a_304_changes_nothing(library, clock) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "rss.xml")
        await poller(f).run_round()
        version = engine.index.version
        clock.now += INTERVAL * 2
        report = await poller(f).run_round()
    assert site.conditional[0] == {}
    assert site.conditional[1]["If-None-Match"] == '"v' + site.conditional[1]["If-None-Match"][2:]
    assert "If-Modified-Since" in site.conditional[1]
    assert [o.status for o in report.feeds] == ["not modified"]
    assert engine.index.version == version  # nothing written
    [feed] = store.feeds()
    assert feed.last_success_at is not None and feed.failures == 0
    assert site.requests["/news/cheese-quota.html"] == 1


async def test_polls_keep_their_interval_with_jitter(library, clock) -> None:
    _engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "rss.xml")
        await poller(f).run_round()
        [feed] = store.feeds()
        wait = feed.next_poll_at - clock.now
        assert INTERVAL * (1 - JITTER) <= wait <= INTERVAL * (1 + JITTER)
        report = await poller(f).run_round()  # not due yet: not fetched
        assert report.feeds == [] and site.requests["/rss.xml"] == 1
        clock.now += wait
        assert len((await poller(f).run_round()).feeds) == 1


async def test_a_malformed_feed_is_recorded_and_backs_off(library, clock) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "broken.xml", "rdf.xml")
        report = await poller(f).run_round()
        outcome = {o.url: o for o in report.feeds}[site.url("broken.xml")]
        assert outcome.status == "failed" and "not an RSS, Atom or RDF feed" in outcome.error
        assert titles(engine) == {CARS.title}  # the other feed was read all the same
        broken = store.feed(site.url("broken.xml"))
        assert broken.failures == 1 and broken.last_error.startswith(site.url("broken.xml"))
        first_wait = broken.next_poll_at - clock.now
        assert 2 * INTERVAL * (1 - JITTER) <= first_wait <= 2 * INTERVAL * (1 + JITTER)
        clock.now = broken.next_poll_at
        await poller(f).run_round()
        again = store.feed(site.url("broken.xml"))
        assert again.failures == 2
        assert again.next_poll_at - clock.now >= 4 * INTERVAL * (1 - JITTER)  # twice as long


async def test_a_feed_of_10000_items_is_taken_a_capped_batch_per_round(library, clock) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "big.xml")
        first = await poller(f, max_items=5).run_round()
        assert first.feeds[0].listed == 10_000
        assert len(first.ingested) == 5
        assert store.feed(site.url("big.xml")).pending == 9_995
        pages = sum(n for path, n in site.requests.items() if path.startswith("/news/gen-"))
        assert pages == 5  # only the claimed items' pages were fetched
        clock.now += INTERVAL * 2
        second = await poller(f, max_items=5).run_round()
    assert [o.status for o in second.feeds] == ["not modified"]
    assert len(second.ingested) == 5  # the backlog is worked through even when nothing changed
    assert store.feed(site.url("big.xml")).pending == 9_990
    assert len(titles(engine)) == 10
    newest = {a.date for a in engine.articles() if not a.bundled}
    assert min(newest) >= "2018-10-24"  # newest first: dates run to day 299 of 2018


async def test_a_slow_feed_times_out_and_the_others_are_read(library) -> None:
    engine, store, poller = library
    site = NewsSite(slow_seconds=3.0)
    async with serving(site), fetcher(timeout=0.5) as f:
        follow(store, site, "slow.xml", "rdf.xml")
        report = await poller(f).run_round()
    slow = store.feed(site.url("slow.xml"))
    assert "no complete answer within 0.5 s" in slow.last_error and slow.failures == 1
    assert titles(engine) == {CARS.title}
    assert {o.status for o in report.feeds} == {"failed", "new items"}


async def test_an_item_that_redirects_to_a_private_address_is_refused(library) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "private.xml")
        report = await poller(f).run_round()
    [(item, reason)] = report.failed
    assert item.link == site.url("news/to-private.html")
    assert "refused" in reason and "169.254.169.254" in reason
    assert titles(engine) == {CARS.title}
    assert PANELS.title not in titles(engine)
    # Tried again in later rounds, then given up.
    [stored] = [i for i in store.items() if i.link == item.link]
    assert stored.state == "pending" and stored.attempts == 1


async def test_a_story_listed_again_under_another_url_is_kept_and_linked(library, clock) -> None:
    """The same text under another link is kept and linked as a copy, as `tradetalk ingest`
    keeps two outlets' copies: skipping it lost the article for good whenever the match was
    wrong. Only the same page (the same link) is skipped."""
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "twice.xml")
        report = await poller(f).run_round()
        assert not report.skipped and len(report.ingested) == 3
        copies = [a for a in engine.articles() if a.title == CHEESE.title]
        assert len(copies) == 2
        assert {a.fetched_from for a in copies} == {
            site.url("news/cheese-quota.html"),
            site.url("news/cheese-quota-updated.html"),
        }
        first, second = copies
        assert {first.duplicate_of, second.duplicate_of} - {None} in ({first.id}, {second.id})
        # In a later round the known link is skipped when listed, never fetched again.
        follow(store, site, "rss.xml")  # lists the cheese story (known link) and the panels
        later = await poller(f).run_round()
        answer = engine.ask("How many tonnes of cheese would the latest offer let in duty free?")
    assert [i.link for i, _ in later.ingested] == [site.url("news/dispute-panels.html")]
    cheese_items = [i for i in store.items() if i.key in ("cheese-quota", "cheese-quota-updated")]
    assert sorted(i.state for i in cheese_items) == ["ingested", "ingested", "skipped"]
    assert site.requests["/news/cheese-quota.html"] == 1
    # The answer cites the story once, whichever copy it quotes.
    assert len({c.article_id for c in answer.citations} & {a.id for a in copies}) == 1


async def test_a_poison_item_is_its_own_error_and_the_round_goes_on(library, clock) -> None:
    """An item whose link is one 300-letter word (its id once passed the 255 bytes a file name
    may have, and every round of the library failed) and an item whose article file can't be
    written (a folder in its place): the first is added under a short id, the second is that
    item's error, retried, then given up; every other item of both feeds goes in, once."""
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        lumber = site.url(f"news/{LUMBER.slug}.html")
        (engine.settings.articles_dir / f"{fetched_article_id(lumber)}.md").mkdir(parents=True)
        follow(store, site, "poison.xml", "rss.xml")
        first = await poller(f).run_round()
        assert titles(engine) == {FERRY.title, CHEESE.title, PANELS.title}
        [(item, reason)] = first.failed
        assert item.link == lumber and reason.startswith("could not save the article")
        ferry = next(a for a in engine.articles() if a.title == FERRY.title)
        assert ferry.fetched_from == site.url(f"news/{LONG_PATH}.html")
        assert len(f"{ferry.id}.md") < 120 and ferry.id == fetched_article_id(ferry.fetched_from)
        for _ in range(2):
            clock.now += INTERVAL * 4
            later = await poller(f).run_round()
            assert [i.link for i, _ in later.failed] == [lumber] and not later.ingested
    states = {i.link: (i.state, i.attempts) for i in store.items()}
    assert states[lumber] == ("failed", 3)  # given up after its third try
    assert {s for link, s in states.items() if link != lumber} == {("ingested", 1)}
    assert site.requests[f"/news/{LONG_PATH}.html"] == 1  # added once, never fetched again
    assert site.requests[f"/news/{CHEESE.slug}.html"] == 1
    assert [f.article_count for f in store.feeds()] == [1, 2]


async def test_a_fault_one_item_sets_off_is_that_items_error(
    make_engine, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faults of ours that one page sets off (injected here: reading the ferry page raises,
    then the model chokes on the lumber story's text) are that item's error, with the
    traceback in the log; the round goes on and the rest of its build goes in."""

    class ChokesOnLumber(HashingEncoder):
        def encode(self, texts, *, batch_size=64):
            if any("Softwood lumber producers" in t for t in texts):
                raise RuntimeError("the tokenizer choked")
            return super().encode(texts, batch_size=batch_size)

    engine = make_engine(ChokesOnLumber())
    store = FeedStore(engine.settings.data_dir, clock=clock, rng=random.Random(1))
    real_parse = poll_module.parse_article

    def parse(data, name, **kw):
        if "Ferry operators" in data.decode():
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(data, name, **kw)

    monkeypatch.setattr(poll_module, "parse_article", parse)
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "poison.xml", "rss.xml")
        poller = FeedPoller(store, engine, f, max_items=20, max_feed_bytes=10_000_000)
        report = await poller.run_round()
    failed = {item.link.rsplit("/", 1)[1]: reason for item, reason in report.failed}
    assert failed == {
        f"{LONG_PATH.rsplit('/', 1)[1]}.html": (
            "unexpected failure reading or adding it (RecursionError)"
        ),
        f"{LUMBER.slug}.html": "unexpected failure reading or adding it (RuntimeError)",
    }
    assert titles(engine) == {CHEESE.title, PANELS.title}
    store.close()


async def test_feeds_and_their_items_survive_a_restart(library, clock) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        follow(store, site, "big.xml")
        await poller(f, max_items=3).run_round()
    store.close()
    again = FeedStore(engine.settings.data_dir, clock=clock)
    [feed] = again.feeds()
    assert feed.url == site.url("big.xml") and feed.article_count == 3 and feed.pending == 9_997
    assert feed.etag and feed.last_success_at
    assert sum(i.state == "ingested" for i in again.items()) == 3
    again.close()


async def test_the_digest_names_new_articles_and_their_issues(library) -> None:
    engine, store, poller = library
    async with serving(NewsSite()) as site, fetcher() as f:
        store.follow(site.url("rss.xml"), added_by="test", interval_s=INTERVAL, channel_id=42)
        await poller(f).run_round()
    [digest] = pending_digests(store, engine)
    assert digest.channel_id == 42
    assert {a.title for a in digest.articles} == {CHEESE.title, PANELS.title}
    assert {a.date for a in digest.articles} == {"2018-09-20", "2018-09-21"}
    issues = {u.issue.id for u in digest.updates}
    assert {"dairy", "chapter-19"} <= issues
    text = digest_text(digest)
    assert CHEESE.title in text and "New developments on:" in text
    store.digested(digest.items)
    assert pending_digests(store, engine) == []


def test_unfollowing_an_unknown_feed_says_so(tmp_path: Path) -> None:
    store = FeedStore(tmp_path)
    with pytest.raises(FeedError, match="is not followed"):
        store.unfollow("https://example.com/feed.xml")
    store.close()


def test_documents_that_are_not_feeds_are_refused() -> None:
    for data in (b"<html><body><p>a page</p></body></html>", b"\x00\x01 binary", b"<rss><chan"):
        with pytest.raises(FeedError, match="not an RSS, Atom or RDF feed"):
            parse_feed(data, "https://example.com/x")


def test_allowing_private_addresses_never_allows_link_local_ones() -> None:
    import ipaddress

    allowed = ["127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "93.184.216.34"]
    refused = ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "0.0.0.0", "224.0.0.1"]
    assert all(is_intranet_address(ipaddress.ip_address(a)) for a in allowed)
    assert not any(is_intranet_address(ipaddress.ip_address(a)) for a in refused)


def test_article_ids_of_feed_items_come_from_their_link() -> None:
    """What the crash recovery relies on: an item's article is found by its link alone."""
    link = "http://127.0.0.1:8080/news/cheese-quota.html"
    assert fetched_article_id(link) == fetched_article_id(link)
    assert fetched_article_id(link) != fetched_article_id(link + "?x=1")
