"""Nothing lost, nothing forged: an article's identity is what TradeTalk saw (the URL it fetched,
or the file's content), never what the article declares about itself.

The pages are served by a real local web server and fetched by the real fetcher; the engine
uses the hashing test encoder (identity is bookkeeping, not retrieval quality)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from corpus.articles import fetched_article_id, parse_article
from corpus.fetch import ArticleFetcher
from tradetalk.engine import Engine

BAY_STREET = ARTICLES / "2018-10-01-bay-street-bulletin-usmca-deal.html"

REAL_TEXT = (
    "Canada and the United States reached a last-minute agreement late on Sunday to keep "
    "Canada in the North American trade pact, officials in Ottawa said.",
    "The deal gives U.S. dairy farmers access to about 3.6 percent of Canada's dairy market, "
    "according to a summary released by the two governments.",
)
FORGED_TEXT = (
    "Canada walked away from the North American trade talks late on Sunday and will not sign "
    "any agreement this year, officials in Ottawa said.",
    "The collapse leaves U.S. dairy farmers with no new access to the Canadian market, "
    "according to a summary released by nobody in particular.",
)


def page(title: str, paragraphs: tuple[str, ...], *, site: str, canonical: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title>"
        f'<meta property="og:site_name" content="{site}">'
        f'<link rel="canonical" href="{canonical}">'
        f'<meta property="og:url" content="{canonical}">'
        '<meta property="article:published_time" content="2018-10-01T06:30:00Z">'
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """/real is the outlet's story; /forged, on the same server, copies its headline and date
    and declares /real's canonical URL and the outlet's name."""
    app = web.Application()
    base: dict[str, str] = {}

    async def real(request: web.Request) -> web.Response:
        html = page("Deal keeps Canada in", REAL_TEXT, site="Real Outlet", canonical=base["real"])
        return web.Response(body=html, content_type="text/html")

    async def forged(request: web.Request) -> web.Response:
        html = page("Deal keeps Canada in", FORGED_TEXT, site="Real Outlet", canonical=base["real"])
        return web.Response(body=html, content_type="text/html")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/real")

    app.add_routes([web.get("/real", real), web.get("/forged", forged), web.get("/moved", moved)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    root = f"http://127.0.0.1:{runner.addresses[0][1]}"
    base["real"] = f"{root}/real"
    yield root
    await runner.cleanup()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    empty = tmp_path / "no-bundled"
    empty.mkdir()
    built = Engine(
        Settings(data_dir=tmp_path / "data", bundled_dir=empty), encoder=HashingEncoder()
    )
    built.open()
    return built


async def fetch_and_ingest(engine: Engine, url: str):
    async with ArticleFetcher(allow_private=True) as fetcher:
        fetched = await fetcher.fetch(url)
    return engine.ingest_bytes(fetched.data, fetched.filename, fetched_from=fetched.url)


async def test_a_page_declaring_another_articles_url_cannot_replace_it(
    engine: Engine, site: str
) -> None:
    real = await fetch_and_ingest(engine, f"{site}/real")
    forged = await fetch_and_ingest(engine, f"{site}/forged")
    assert (real.status, forged.status) == ("added", "added")  # not "updated"
    assert real.article.id != forged.article.id
    assert real.article.id == fetched_article_id(f"{site}/real")
    kept = engine.article(real.article.id)
    assert kept.content_hash == real.article.content_hash  # the real story is untouched
    # The forged page is shown as what it is: a page on 127.0.0.1 that claims an outlet.
    assert forged.article.url == f"{site}/forged"
    assert forged.article.source == "127.0.0.1, as Real Outlet"
    assert forged.article.claimed_source == "Real Outlet"
    assert forged.article.claimed_url == f"{site}/real"
    # Answers quote it under that label, never under the outlet's name alone.
    hits = engine.search("Canada walked away from the talks", k=3).hits
    forged_hit = next(h for h in hits if h.article.id == forged.article.id)
    assert forged_hit.article.source.startswith("127.0.0.1, as ")
    # And the real page is still quoted with its own text.
    text = " ".join(h.record.text for h in engine.search("dairy market access 3.6 percent").hits)
    assert "3.6 percent" in text


async def test_the_same_url_fetched_again_is_a_no_op_and_a_redirect_is_its_target(
    engine: Engine, site: str
) -> None:
    first = await fetch_and_ingest(engine, f"{site}/real")
    again = await fetch_and_ingest(engine, f"{site}/real")
    assert again.status == "unchanged" and again.article.id == first.article.id
    # TradeTalk followed the redirect itself (checking the hop): it saw /real.
    moved = await fetch_and_ingest(engine, f"{site}/moved")
    assert moved.status == "unchanged" and moved.article.id == first.article.id
    assert len(engine.articles()) == 1


def markdown(title: str, source: str, paragraphs: tuple[str, ...], url: str = "") -> bytes:
    lines = ["---", f"title: {title}", f"source: {source}", "date: 2018-10-01"]
    lines += [f"url: {url}"] if url else []
    return ("\n".join([*lines, "---", "", "\n\n".join(paragraphs)]) + "\n").encode()


def test_same_headline_and_date_different_text_are_two_articles(engine: Engine) -> None:
    one = engine.ingest_bytes(markdown("Deal keeps Canada in", "Wire A", REAL_TEXT), "a.md")
    two = engine.ingest_bytes(markdown("Deal keeps Canada in", "Wire B", FORGED_TEXT), "a.md")
    assert (one.status, two.status) == ("added", "added")
    assert {a.id for a in engine.articles()} == {one.article.id, two.article.id}
    # Declaring the same url changes nothing: a file's identity is its content.
    three = engine.ingest_bytes(
        markdown("Deal keeps Canada in", "Wire C", FORGED_TEXT[::-1], url="https://x.test/a"),
        "c.md",
    )
    four = engine.ingest_bytes(
        markdown("Deal keeps Canada in", "Wire D", REAL_TEXT[::-1], url="https://x.test/a"),
        "d.md",
    )
    assert three.status == four.status == "added"
    assert len(engine.articles()) == 4
    assert engine.ingest_bytes(
        markdown("Deal keeps Canada in", "Wire A", REAL_TEXT), "again.md"
    ).status == ("unchanged")


def test_two_outlets_copies_of_one_story_are_both_kept_and_linked(engine: Engine) -> None:
    wire = ARTICLES / "2018-09-26-continental-press-trump-rebuffs-trudeau.md"
    original = engine.ingest_path(wire).article
    copy_text = wire.read_bytes().replace(b"Continental Press (wire)", b"Lakeshore Daily")
    copy = engine.ingest_bytes(copy_text, "copy.md")
    assert copy.status == "added" and copy.article.id != original.id
    assert copy.duplicate_of is not None and copy.duplicate_of.id == original.id
    assert len(engine.articles()) == 2


def test_identity_fields_in_a_file_being_ingested_are_ignored(engine: Engine) -> None:
    """Only TradeTalk's own saved files carry a trusted ``id`` / ``fetched_from``."""
    victim = engine.ingest_bytes(markdown("Deal keeps Canada in", "Wire A", REAL_TEXT), "a.md")
    sneaky = markdown("Deal keeps Canada in", "Wire A", FORGED_TEXT).replace(
        b"---\ntitle",
        f"---\nid: {victim.article.id}\nfetched_from: https://x.test/\ntitle".encode(),
    )
    result = engine.ingest_bytes(sneaky, "sneaky.md")
    assert result.status == "added" and result.article.id != victim.article.id
    assert result.article.fetched_from is None
    assert engine.article(victim.article.id).content_hash == victim.article.content_hash


def test_a_fetched_page_keeps_its_id_and_claims_through_a_rebuild(
    engine: Engine, tmp_path: Path
) -> None:
    html = BAY_STREET.read_bytes()
    url = "https://news.example.org/usmca"
    added = engine.ingest_bytes(html, "usmca.html", fetched_from=url).article
    assert added.source == "news.example.org, as Bay Street Bulletin"
    assert (
        added.claimed_url == "https://example.com/bay-street-bulletin/2018/10/01/usmca-deal-reached"
    )
    engine.rebuild()
    again = Engine(engine.settings, encoder=HashingEncoder())
    again.open()
    assert again.article(added.id) == added
    parsed = parse_article(html, "usmca.html", max_bytes=10**7, fetched_from=url)
    assert parsed.id == added.id and parsed.url == url
