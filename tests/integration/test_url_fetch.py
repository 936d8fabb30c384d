"""The URL fetcher against a real local web server: what it downloads and what it refuses."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from corpus.fetch import ArticleFetcher, fetch_article, is_public_address
from tradetalk.errors import FetchError

ARTICLE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "articles"
    / ("2018-10-01-bay-street-bulletin-usmca-deal.html")
)
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def only_this_server(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Public addresses plus 127.0.0.1 itself: lets a test server start a redirect chain while
    every other private address stays refused."""
    return ip == LOOPBACK or is_public_address(ip)


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late", content_type="text/plain")


async def _drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for _ in range(40):
        await response.write(b"tariffs ")
        await asyncio.sleep(0.05)
    return response


async def _chunked_big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(20):
        await response.write(b"<p>" + b"x" * 1000 + b"</p>")
    return response


def _fixed(body: bytes, content_type: str):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    return handler


def _redirect(location: str):
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location.format(port=request.url.port))

    return handler


@pytest.fixture
async def server() -> AsyncIterator[str]:
    html = ARTICLE.read_bytes()
    app = web.Application()
    app.add_routes(
        [
            web.get("/article.html", _fixed(html, "text/html")),
            web.get("/notes.md", _fixed(b"# Notes\n\nDairy.", "text/plain")),
            web.get("/report.pdf", _fixed(b"%PDF", "application/pdf")),
            web.get("/big.html", _fixed(b"x" * 20_000, "text/html")),
            web.get("/chunked.html", _chunked_big),
            web.get("/slow", _slow),
            web.get("/drip", _drip),
            web.get("/moved", _redirect("/article.html")),
            web.get("/to-metadata", _redirect("http://169.254.169.254/latest/meta-data/")),
            web.get("/to-ipv6-loopback", _redirect("http://[::1]:{port}/article.html")),
            web.get("/to-ftp", _redirect("ftp://127.0.0.1/article.html")),
            web.get("/loop", _redirect("/loop")),
        ]
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_allowed_when_private_urls_are_on(server: str) -> None:
    page = await fetch_article(f"{server}/article.html", allow_private=True)
    assert page.data == ARTICLE.read_bytes()
    assert page.filename == "article.html" and page.content_type == "text/html"
    assert page.url == f"{server}/article.html"
    assert page.site == "127.0.0.1"


async def test_refused_when_private_urls_are_off(server: str) -> None:
    with pytest.raises(FetchError, match=r"refused, 127\.0\.0\.1 is a private"):
        await fetch_article(f"{server}/article.html")
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="refused, localhost resolves to a private"):
        await fetch_article(f"http://localhost:{port}/article.html")


async def test_redirects_are_followed_and_every_hop_checked(server: str) -> None:
    async with ArticleFetcher(address_allowed=only_this_server) as fetcher:
        page = await fetcher.fetch(f"{server}/moved")
        assert page.url == f"{server}/article.html" and page.data == ARTICLE.read_bytes()
        with pytest.raises(FetchError, match=r"169\.254\.169\.254/latest.*refused"):
            await fetcher.fetch(f"{server}/to-metadata")
        with pytest.raises(FetchError, match=r"refused, ::1 is a private"):
            await fetcher.fetch(f"{server}/to-ipv6-loopback")
        with pytest.raises(FetchError, match="only http and https"):
            await fetcher.fetch(f"{server}/to-ftp")
        with pytest.raises(FetchError, match="more than 5 redirects"):
            await fetcher.fetch(f"{server}/loop")


@pytest.mark.parametrize("path", ["/big.html", "/chunked.html"])
async def test_oversized_body_is_refused(server: str, path: str) -> None:
    with pytest.raises(FetchError, match="10,000"):
        await fetch_article(server + path, allow_private=True, max_bytes=10_000)


@pytest.mark.parametrize("path", ["/slow", "/drip"])
async def test_slow_response_times_out(server: str, path: str) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(FetchError, match=r"no complete answer within 0\.5 s"):
        await fetch_article(server + path, allow_private=True, timeout=0.5)
    assert loop.time() - started < 1.5


async def test_only_article_content_types(server: str) -> None:
    with pytest.raises(FetchError, match="application/pdf is not an article page"):
        await fetch_article(f"{server}/report.pdf", allow_private=True)
    notes = await fetch_article(f"{server}/notes.md", allow_private=True)
    assert notes.filename == "notes.md"  # Markdown served as text/plain stays Markdown


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.org/a.html", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///nohost", "no host name"),
        ("http://user:secret@example.org/a.html", "user name or password"),
        ("http://10.0.0.8/a.html", r"refused, 10\.0\.0\.8"),
        ("http://[fd00::1]/a.html", "refused, fd00::1"),
        ("http://[::ffff:127.0.0.1]/a.html", "refused"),
    ],
)
async def test_bad_links_are_refused_before_any_request(url: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        await fetch_article(url)


async def test_http_errors_are_reported(server: str) -> None:
    with pytest.raises(FetchError, match="answered HTTP 404"):
        await fetch_article(f"{server}/missing.html", allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("224.0.0.251", False),  # multicast
        ("0.0.0.0", False),
        ("240.0.0.1", False),  # reserved
        ("::1", False),
        ("fe80::1", False),
        ("fd12:3456::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
    ],
)
def test_public_address_policy(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
