"""A local news site for the feed tests: article pages and feeds (RSS 2.0, Atom, RDF) written
here, served on 127.0.0.1 by aiohttp, with the awkward cases a real site has: conditional GETs
(304), a malformed feed, a feed of 10,000 items, a slow server, an item whose link redirects
to a private address, a feed that lists one story twice under two URLs, and a feed with an
item whose link path is one 300-letter word.

Every article is written for these tests (a made-up round of talks), in plain words."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import escape

from aiohttp import web


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    outlet: str
    date: str  # ISO
    paragraphs: tuple[str, ...]

    def html(self) -> str:
        body = "\n".join(f"<p>{escape(p)}</p>" for p in self.paragraphs)
        return (
            f"<!doctype html><html><head><title>{escape(self.title)}</title>"
            f'<meta property="og:site_name" content="{escape(self.outlet)}">'
            f'<meta property="article:published_time" content="{self.date}T08:00:00Z">'
            f"</head><body><header><nav>Home | Trade | Markets</nav></header><article>"
            f"<h1>{escape(self.title)}</h1>{body}</article>"
            "<footer>Subscribe to our newsletter</footer></body></html>"
        )


CHEESE = Story(
    "cheese-quota",
    "Negotiators trade offers on a larger cheese quota",
    "Harbour Times",
    "2018-09-20",
    (
        "Trade negotiators from Ottawa and Washington traded written offers on Thursday over "
        "how much foreign cheese Canada would let in without tariffs, officials on both sides "
        "said.",
        "The latest Canadian offer would allow 18,500 tonnes of cheese a year into the country "
        "duty free, up from the 12,000 tonnes it put forward in August, according to two "
        "people who have seen the papers.",
        "Dairy farmers in Quebec said any wider opening of the supply management system would "
        "be a betrayal, and their union planned a rally outside Parliament for next week.",
        "American officials called the offer a step forward but said milk powder and the "
        "pricing class for milk proteins were still the bigger problem for their producers.",
    ),
)
PANELS = Story(
    "dispute-panels",
    "Dispute panels are the last large gap, officials say",
    "Lakeview Courier",
    "2018-09-21",
    (
        "The fate of the Chapter 19 dispute settlement panels is now the largest gap left in "
        "the talks, a senior official involved in the negotiations said on Friday.",
        "Canada wants to keep the binational panels, which let it challenge American "
        "anti-dumping duties before independent reviewers instead of American courts.",
        "Washington has proposed ending the panels entirely, arguing that they override "
        "decisions made by its own trade agencies and courts.",
        "Officials said a compromise that keeps the panels for softwood lumber cases alone "
        "had been discussed but not agreed.",
    ),
)
CARS = Story(
    "rules-of-origin",
    "Car makers watch the new rules of origin closely",
    "Northbound Wire",
    "2018-09-22",
    (
        "Automobile makers with plants in Ontario are studying a draft rule that would require "
        "seventy-five percent of a car's parts to come from North America to avoid tariffs.",
        "The draft also sets a wage floor of sixteen dollars an hour for a share of the work, "
        "a provision aimed at assembly plants in Mexico.",
        "Industry groups warned that the paperwork alone could cost suppliers millions of "
        "dollars a year, and asked for a transition period of at least five years.",
    ),
)
LUMBER = Story(
    "lumber-talks",
    "Lumber producers ask to be left out of any late deal",
    "Harbour Times",
    "2018-09-23",
    (
        "Softwood lumber producers in British Columbia asked negotiators on Sunday to keep "
        "their long-running quarrel out of any last-minute agreement on the trade pact.",
        "The producers said a rushed side deal could lock in duties they have fought for "
        "years, and that they would rather keep their separate legal challenges.",
        "A spokesman for the lumber council said talks on the separate quota system had not "
        "resumed since the spring.",
    ),
)
FERRY = Story(
    "ferry-inspections",
    "Ferry operators ask for joint customs checks on the lakes",
    "Portside Ledger",
    "2018-09-24",
    (
        "Ferry operators on the Great Lakes asked both governments on Monday to let customs "
        "officers from either country inspect cargo at the port of departure.",
        "The operators said trucks now wait up to three hours at each landing, and that a "
        "single joint inspection would cut crossing times by half.",
        "Officials in Ottawa said the request would be studied once the wider trade talks end.",
    ),
)
STORIES = {s.slug: s for s in (CHEESE, PANELS, CARS, LUMBER)}
# A link whose path is one long word: the article's id (and file name) must still fit.
LONG_PATH = "a/" + "a" * 300
# The cheese story again under another address (an outlet re-posting it, a feed listing it twice).
REPOSTED = "cheese-quota-updated"


# Sentences the 10,000 generated market notes are made of, a few each, so no two notes are
# near-copies of each other.
MARKET_LINES = (
    "Traders in Toronto sold the Canadian dollar early in the session.",
    "Bond yields in Ottawa edged higher as investors waited for news from Washington.",
    "Shares of auto parts suppliers fell after the morning briefing.",
    "A steel producer in Hamilton said orders had slowed since the tariffs began.",
    "Grain exporters in Saskatchewan reported a quiet week at the ports.",
    "The peso gained against the dollar after comments from officials in Mexico City.",
    "Dairy processors in Quebec held back on new contracts until the talks settle.",
    "Analysts expect the central bank to keep rates steady this month.",
    "Lumber futures slipped for a third straight day in Chicago.",
    "Freight rates on the border crossings at Windsor were little changed.",
    "A brokerage note called the negotiations the largest risk for the quarter.",
    "Retail investors moved money into government bonds on Tuesday.",
    "Oil prices rose, lifting energy shares on the main index.",
    "Several pension funds said they were hedging against a failed agreement.",
    "Importers of farm equipment asked for clarity on future duties.",
    "The aluminum smelters in the Saguenay region kept output unchanged.",
    "Currency strategists cut their forecasts for the loonie by half a cent.",
    "Car dealers in Alberta said customers were delaying purchases.",
    "A survey of manufacturers showed confidence at its lowest in two years.",
    "Rail carriers reported more container traffic heading south.",
    "Economists said a deal would add a fraction of a point to growth next year.",
    "Wine exporters in British Columbia hoped for quicker border inspections.",
    "Technology shares were mostly flat in afternoon trading.",
    "Insurance companies warned of higher claims from supply chain delays.",
    "Fishermen on the Atlantic coast said prices for lobster held firm.",
    "Chemical makers in Sarnia kept their plants running at full capacity.",
    "Gold miners gained as investors looked for safety.",
    "Hog farmers in Manitoba said exports to Mexico had recovered.",
    "Clothing retailers reported slower sales of imported goods.",
    "The transport minister promised to shorten waits at the bridges.",
)


def generated(n: int) -> Story:
    """Story number `n` of the 10,000-item feed, a few market lines of its own."""
    rng = random.Random(n)
    lines = rng.sample(MARKET_LINES, 4)
    return Story(
        f"gen-{n}",
        f"Market note number {n} on the talks",
        "Ticker Daily",
        (dt.date(2018, 1, 1) + dt.timedelta(days=n % 300)).isoformat(),
        (f"Market note {n}: " + lines[0] + " " + lines[1], lines[2] + " " + lines[3]),
    )


@dataclass
class NewsSite:
    """What the server serves, and what it was asked."""

    base: str = ""
    requests: Counter = field(default_factory=Counter)  # path -> count
    conditional: list[dict[str, str]] = field(default_factory=list)  # validators received
    slow_seconds: float = 3.0
    big_items: int = 10_000

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    # -- feeds --------------------------------------------------------------------------------

    def rss(self, stories: list[Story | tuple[str, Story]]) -> str:
        items = []
        for entry in stories:
            slug, story = entry if isinstance(entry, tuple) else (entry.slug, entry)
            stamp = dt.datetime.fromisoformat(story.date).replace(hour=9, tzinfo=dt.UTC)
            items.append(
                f"<item><title>{escape(story.title)}</title>"
                f"<link>{self.url(f'news/{slug}.html')}</link>"
                f'<guid isPermaLink="false">{slug}</guid>'
                f"<pubDate>{format_datetime(stamp)}</pubDate></item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Harbour Times: Trade</title><link>{self.url('')}</link>"
            "<description>Trade news</description>" + "".join(items) + "</channel></rss>"
        )

    def atom(self, stories: list[Story]) -> str:
        entries = "".join(
            f"<entry><title>{escape(s.title)}</title>"
            f'<link rel="alternate" href="{self.url(f"news/{s.slug}.html")}"/>'
            f"<id>urn:test:{s.slug}</id><updated>{s.date}T10:00:00Z</updated></entry>"
            for s in stories
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Lakeview Courier</title><id>urn:test:courier</id>"
            f"<updated>2018-09-23T00:00:00Z</updated>{entries}</feed>"
        )

    def rdf(self, stories: list[Story]) -> str:
        seq = "".join(
            f'<rdf:li rdf:resource="{self.url(f"news/{s.slug}.html")}"/>' for s in stories
        )
        items = "".join(
            f'<item rdf:about="{self.url(f"news/{s.slug}.html")}"><title>{escape(s.title)}'
            f"</title><link>{self.url(f'news/{s.slug}.html')}</link>"
            f"<dc:date>{s.date}</dc:date></item>"
            for s in stories
        )
        return (
            '<?xml version="1.0"?><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{self.url("rdf.xml")}"><title>Northbound Wire</title>'
            f"<link>{self.url('')}</link><description>Wire</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>"
        )

    def big(self) -> str:
        return self.rss([(f"gen-{n}", generated(n)) for n in range(self.big_items)])

    # -- handlers -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.middlewares.append(self._count)
        feeds = {
            "rss.xml": lambda: self.rss([CHEESE, PANELS]),
            "atom.xml": lambda: self.atom([PANELS, LUMBER]),
            "rdf.xml": lambda: self.rdf([CARS]),
            "twice.xml": lambda: self.rss([CHEESE, (REPOSTED, CHEESE), LUMBER]),
            "private.xml": lambda: self.rss([CARS, ("to-private", PANELS)]),
            "big.xml": self.big,
            # One item whose link is one 300-letter word, and one ordinary story.
            "poison.xml": lambda: self.rss([(LONG_PATH, FERRY), LUMBER]),
        }
        for name, make in feeds.items():
            app.router.add_get(f"/{name}", self._feed(make))
        app.router.add_get("/broken.xml", self._broken)
        app.router.add_get("/slow.xml", self._slow)
        app.router.add_get("/news/to-private.html", self._to_private)
        app.router.add_get("/news/{slug}.html", self._page)
        app.router.add_get(f"/news/{LONG_PATH}.html", self._long_path)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler):
        self.requests[request.path] += 1
        return await handler(request)

    def _feed(self, make):
        cache: dict[str, str] = {}

        async def handler(request: web.Request) -> web.Response:
            if "body" not in cache:
                cache["body"] = make()
            body = cache["body"]
            etag = f'"v{len(body)}"'
            self.conditional.append(
                {k: v for k, v in request.headers.items() if k.lower().startswith("if-")}
            )
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                text=body,
                content_type="application/rss+xml",
                headers={"ETag": etag, "Last-Modified": "Sun, 23 Sep 2018 12:00:00 GMT"},
            )

        return handler

    async def _broken(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<?xml version='1.0'?><rss version='2.0'><channel><title>Half a fee",
            content_type="application/rss+xml",
        )

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.slow_seconds)
        return web.Response(text=self.rss([LUMBER]), content_type="application/rss+xml")

    async def _to_private(self, request: web.Request) -> web.Response:
        # The page "moved" to an address inside the network (the cloud metadata service).
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def _long_path(self, request: web.Request) -> web.Response:
        return web.Response(text=FERRY.html(), content_type="text/html")

    async def _page(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if slug == REPOSTED:
            story = CHEESE
        elif slug.startswith("gen-") and slug[4:].isdigit():
            story = generated(int(slug[4:]))
        elif slug in STORIES:
            story = STORIES[slug]
        else:
            raise web.HTTPNotFound()
        return web.Response(text=story.html(), content_type="text/html")


@contextlib.asynccontextmanager
async def serving(site: NewsSite) -> AsyncIterator[NewsSite]:
    """Serve `site` on 127.0.0.1 in this event loop."""
    runner = web.AppRunner(site.app(), access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield site
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def serving_in_thread(site: NewsSite) -> Iterator[NewsSite]:
    """Serve `site` from a thread of its own (for a test that runs another process)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with serving(site):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield site
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
