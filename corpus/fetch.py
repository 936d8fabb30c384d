"""Fetching an article from a URL, safely: http/https only, no private addresses, capped size and
time, text content types only. The result goes to ``Engine.ingest_bytes``, with the URL it
was fetched from as the article's identity.

Address checks happen where the connection is made (a resolver that drops refused addresses), so
a host cannot pass the check with one DNS answer and then connect to another; redirects are
followed by hand so every hop goes through the same checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Content type -> the file suffix that tells the article parser how to read the body.
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
}
# Feeds: what RSS, Atom and RDF are served as (some servers send plain XML or even text/html).
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x-rss+xml",
        "text/html",  # a feed served with the wrong type is still parsed; feedparser decides
        "text/plain",
    }
)
USER_AGENT = "TradeTalk/0.1 (article fetcher for a trade-news Q&A bot)"
_CHUNK = 64 * 1024
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FetchedPage:
    """A downloaded article, for ``Engine.ingest_bytes(data, filename, fetched_from=url)``."""

    data: bytes
    url: str  # where it was fetched from, after the redirects followed (each one checked)
    filename: str  # suffix chosen from the content type
    content_type: str

    @property
    def site(self) -> str:
        """The host name: the outlet as TradeTalk saw it (the page may claim another)."""
        host = URL(self.url).host or ""
        return host.removeprefix("www.")


@dataclass(frozen=True)
class FetchedFeed:
    """A feed document, or "not modified" (HTTP 304 to a conditional GET: ``data`` is None)."""

    url: str  # after the redirects followed
    data: bytes | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.data is None


def is_public_address(ip: IPAddress) -> bool:
    """False for loopback, private, link-local (cloud metadata), multicast, reserved and other
    non-global addresses, including IPv4 addresses wrapped in IPv6."""
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            return is_public_address(wrapped)
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def is_intranet_address(ip: IPAddress) -> bool:
    """What ``allow_private`` (``TRADETALK_ALLOW_PRIVATE_URLS``, for tests and intranets) lets
    through: public, private and loopback addresses, but never link-local ones (169.254.0.0/16,
    fe80::/10: the cloud metadata service lives there, and no intranet serves news from it),
    multicast or unspecified ones. So a test site on 127.0.0.1 is reachable while a link of
    it that redirects to 169.254.169.254 is still refused."""
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            return is_intranet_address(wrapped)
    return not (ip.is_link_local or ip.is_multicast or ip.is_unspecified)


class RefusedAddress(OSError):
    """Raised inside the connector; an OSError so aiohttp reports it as a connection failure."""


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver and keeps only the addresses the policy allows."""

    def __init__(self, allowed: AddressPolicy) -> None:
        self._allowed = allowed
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [r for r in results if self._allowed(ipaddress.ip_address(r["host"]))]
        if not kept:
            raise RefusedAddress(f"{host} resolves to a private or reserved address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


class ArticleFetcher:
    """Downloads article pages; use as ``async with ArticleFetcher(...) as fetcher``."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 15.0,
        max_bytes: int = 2_000_000,
        max_redirects: int = MAX_REDIRECTS,
        address_allowed: AddressPolicy | None = None,
    ) -> None:
        """``address_allowed`` overrides the address policy (default: public addresses only, or
        also private and loopback ones when ``allow_private``, `is_intranet_address`)."""
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        default = is_intranet_address if allow_private else is_public_address
        self._allowed = address_allowed or default
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ArticleFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so the fetcher can be built before the event loop runs.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allowed), limit=4)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT, "Accept": ", ".join(CONTENT_TYPES)},
                trust_env=False,  # a proxy would connect on our behalf, past the address checks
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def fetch(self, url: str) -> FetchedPage:
        """Download ``url`` (following up to ``max_redirects`` redirects) or raise `FetchError`."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url, self._read)
        except TimeoutError:
            message = f"{_short(url)}: no complete answer within {self.timeout:g} s"
            raise FetchError(message) from None

    async def fetch_feed(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
    ) -> FetchedFeed:
        """A conditional GET of a feed (``If-None-Match`` / ``If-Modified-Since`` from the last
        answer), through the same checks as an article page: scheme, every address and every
        redirect, size (`max_bytes`, default the article cap) and time. Raises `FetchError`."""
        headers = {"Accept": ", ".join(sorted(FEED_TYPES - {"text/html", "text/plain"}))}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        limit = max_bytes or self.max_bytes

        async def read(current: URL, response: aiohttp.ClientResponse) -> FetchedFeed:
            if response.status == 304:
                return FetchedFeed(str(current), None, etag, last_modified)
            if response.status != 200:
                raise FetchError(f"{_short(current)}: the server answered HTTP {response.status}")
            mime = response.content_type.lower()
            if mime not in FEED_TYPES:
                raise FetchError(f"{_short(current)}: {mime or 'no content type'} is not a feed")
            body = await self._body(current, response, limit)
            return FetchedFeed(
                str(current.with_fragment(None)),
                body,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )

        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url, read, headers)
        except TimeoutError:
            message = f"{_short(url)}: no complete answer within {self.timeout:g} s"
            raise FetchError(message) from None

    async def _follow(self, url: str, read, headers: dict[str, str] | None = None):
        current = self._checked_url(url)
        for _ in range(self.max_redirects + 1):
            try:
                async with self._client().get(
                    current, allow_redirects=False, headers=headers
                ) as response:
                    if response.status in REDIRECT_STATUSES:
                        current = self._redirect_target(current, response)
                        continue
                    return await read(current, response)
            except RefusedAddress as exc:
                raise FetchError(f"{_short(current)}: refused, {exc}") from None
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedAddress):
                    raise FetchError(f"{_short(current)}: refused, {exc.os_error}") from None
                raise FetchError(f"{_short(current)}: could not connect to {current.host}") from exc
            except aiohttp.InvalidURL as exc:
                raise FetchError(f"{_short(current)}: not a valid link") from exc
            except aiohttp.ClientError as exc:
                reason = type(exc).__name__
                raise FetchError(f"{_short(current)}: download failed ({reason})") from exc
        raise FetchError(f"{_short(url)}: more than {self.max_redirects} redirects")

    def _redirect_target(self, current: URL, response: aiohttp.ClientResponse) -> URL:
        location = response.headers.get("Location")
        if not location:
            raise FetchError(f"{_short(current)}: redirect without a location")
        try:
            target = current.join(URL(location))
        except (ValueError, TypeError):
            raise FetchError(f"{_short(current)}: redirect to an invalid link") from None
        return self._checked_url(str(target))

    def _checked_url(self, raw: str) -> URL:
        try:
            url = URL(raw.strip())
        except (ValueError, TypeError):
            raise FetchError(f"{_short(raw)}: not a valid link") from None
        if url.scheme not in ("http", "https"):
            raise FetchError(f"{_short(raw)}: only http and https links can be fetched")
        if not url.host:
            raise FetchError(f"{_short(raw)}: the link has no host name")
        if url.user or url.password:
            raise FetchError(f"{_short(raw)}: links with a user name or password are not accepted")
        # Literal IP addresses never reach the resolver, so they are checked here.
        try:
            literal = ipaddress.ip_address(url.host)
        except ValueError:
            literal = None
        if literal is not None and not self._allowed(literal):
            raise FetchError(f"{_short(raw)}: refused, {literal} is a private or reserved address")
        return url

    async def _read(self, url: URL, response: aiohttp.ClientResponse) -> FetchedPage:
        if response.status != 200:
            raise FetchError(f"{_short(url)}: the server answered HTTP {response.status}")
        mime = response.content_type.lower()
        if mime not in CONTENT_TYPES:
            raise FetchError(
                f"{_short(url)}: {mime or 'no content type'} is not an article page "
                "(expected HTML, plain text or Markdown)"
            )
        body = await self._body(url, response, self.max_bytes)
        # The fragment never reaches the server: the same page with or without it is one page.
        return FetchedPage(body, str(url.with_fragment(None)), _filename(url, mime), mime)

    async def _body(self, url: URL, response: aiohttp.ClientResponse, limit: int) -> bytes:
        declared = response.content_length
        if declared is not None and declared > limit:
            raise FetchError(f"{_short(url)}: {declared:,} bytes is over the {limit:,}-byte limit")
        body = bytearray()
        # Content-Length can lie or be absent (chunked), so count what actually arrives.
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise FetchError(f"{_short(url)}: more than {limit:,} bytes")
        return bytes(body)


def _filename(url: URL, mime: str) -> str:
    """A safe file name whose suffix matches what the server said it sent. A ``.md`` link served
    as text/plain (as raw-file hosts do) stays Markdown."""
    stem = _UNSAFE_NAME.sub("-", url.name.rsplit(".", 1)[0] if "." in url.name else url.name)
    stem = stem.strip("-.")[:80] or "article"
    suffix = CONTENT_TYPES[mime]
    if suffix == ".txt" and url.name.lower().endswith((".md", ".markdown")):
        suffix = ".md"
    return stem + suffix


def _short(url: object, limit: int = 80) -> str:
    text = str(url)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def fetch_article(
    url: str, *, allow_private: bool = False, timeout: float = 15.0, max_bytes: int = 2_000_000
) -> FetchedPage:
    """One-off download with a fetcher of its own (the bot keeps one `ArticleFetcher` instead)."""
    async with ArticleFetcher(
        allow_private=allow_private, timeout=timeout, max_bytes=max_bytes
    ) as fetcher:
        return await fetcher.fetch(url)
