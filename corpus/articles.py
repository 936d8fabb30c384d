"""Articles: the `Article` record and the readers for Markdown (front matter), text and HTML."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import frontmatter
import yaml

from corpus.cleaning import clean_paragraphs, is_furniture, split_paragraphs
from corpus.normalize import clean_unicode
from corpus.outlets import outlet_label
from errors import ArticleError

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
MIN_ARTICLE_WORDS = 12


@dataclass(frozen=True)
class Article:
    """One news article: metadata plus its cleaned paragraphs in the original wording.

    Identity (the id) is what TradeTalk itself saw, never what the article says about itself:
    the URL it was fetched from (after the redirects TradeTalk followed), else the content of
    the file. So no page or file can take over another article's id by declaring its URL or
    outlet. What a fetched page declares (``rel=canonical``, ``og:site_name``) is kept as its
    claim (`claimed_url`, `claimed_source`); the outlet's name is shown plainly only when the
    site is that outlet's own (`corpus.outlets`). The bundled corpus, reviewed and
    shipped with the code, keeps the ids it always had."""

    id: str
    title: str
    source: str
    date: dt.date | None
    url: str | None
    paragraphs: tuple[str, ...]
    bundled: bool = False
    path: Path | None = field(default=None, compare=False)
    fetched_from: str | None = None  # the URL TradeTalk downloaded it from
    claimed_source: str | None = None  # the outlet a fetched page names, if not its host
    claimed_url: str | None = None  # the URL a fetched page declares, if not where it was
    # False when the title was made up from the file's name: then it is no headline to quote.
    headline: bool = field(default=True, compare=False)

    @property
    def text(self) -> str:
        """The article body that passage offsets refer to."""
        return "\n\n".join(self.paragraphs)

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a reader or the index sees changes."""
        return content_hash(
            self.title,
            self.source,
            self.date,
            self.url,
            self.paragraphs,
            (self.fetched_from, self.claimed_source, self.claimed_url),
        )

    @property
    def source_label(self) -> str:
        """The outlet as citations show it: a fetched page's own name when the site it was
        read from is that outlet's, else the site with that name beside it
        (`corpus.outlets.outlet_label`)."""
        if self.claimed_source:
            return outlet_label(self.source, self.claimed_source)
        return self.source

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    def to_markdown(self) -> str:
        """The on-disk form of an added article: front matter, then blank-line paragraphs.
        The id is written too, so the article keeps it when cleaning rules change."""
        meta: dict[str, str] = {"id": self.id, "title": self.title, "source": self.source}
        if self.date:
            meta["date"] = self.date.isoformat()
        for key in ("url", "fetched_from", "claimed_source", "claimed_url"):
            value = getattr(self, key)
            if value:
                meta[key] = value
        header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
        return f"---\n{header}---\n\n" + "\n\n".join(self.paragraphs) + "\n"


def content_hash(
    title: str,
    source: str,
    date: dt.date | None,
    url: str | None,
    paragraphs: tuple[str, ...],
    provenance: tuple[str | None, ...] = (None, None, None),
) -> str:
    payload = [title, source, date.isoformat() if date else None, url, paragraphs]
    if any(provenance):  # absent for files: their hashes (and ids) stay what they were
        payload.append(list(provenance))
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


# An id is a file name (``<id>.md``): a slug this long keeps it far under the 255 bytes a name
# may have, whatever the title or URL path (one 300-letter word in a link, a 10,000-letter
# title). The hash after it is what tells articles apart, so cutting the slug loses nothing.
MAX_SLUG_CHARS = 80


def slugify(text: str, max_words: int = 6) -> str:
    words = re.findall(r"[a-z0-9]+", clean_unicode(text).lower())
    return "-".join(words[:max_words])[:MAX_SLUG_CHARS].strip("-") or "article"


def make_article_id(title: str, date: dt.date | None, url: str | None) -> str:
    """The bundled corpus's ids: slug plus a short hash of its declared url, else title+date.
    Only for bundled articles, which ship with the code (answers and evaluations cite them)."""
    identity = url or f"{title}|{date}"
    digest = hashlib.sha1(identity.encode()).hexdigest()[:6]
    prefix = f"{date.isoformat()}-" if date else ""
    return f"{prefix}{slugify(title)}-{digest}"


def content_article_id(title: str, date: dt.date | None, digest: str) -> str:
    """A file's id: readable slug plus 48 bits of its content hash. Two texts with the same
    headline and date are two articles; the same text ingested again is the same one."""
    prefix = f"{date.isoformat()}-" if date else ""
    return f"{prefix}{slugify(title)}-{digest[:12]}"


def fetched_article_id(url: str) -> str:
    """A fetched page's id: from the URL TradeTalk fetched, and nothing the page says, so
    fetching it again later (edited) updates it, and no other page can replace it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    digest = hashlib.sha256(f"url:{url}".encode()).hexdigest()[:12]
    return f"{slugify(host + ' ' + parts.path.replace('/', ' '), 8)}-{digest}"


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


_STORED_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,199}$")


def parse_date(value: object, *, where: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ArticleError(f"{where}: date {value!r} is not YYYY-MM-DD") from None


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{name}: looks like a binary file, not an article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError(f"{name}: is not UTF-8 text") from None


def _build(
    *,
    name: str,
    raw_paragraphs: list[str],
    meta: dict[str, object],
    bundled: bool,
    path: Path | None,
    stored: bool = False,
    fetched_from: str | None = None,
) -> Article:
    title = clean_unicode(str(meta.get("title") or "")).strip()
    if not title:  # a text file's first line may be its headline
        first = next((p for p in raw_paragraphs if not is_furniture(p, labels=False)), "")
        if first and _looks_like_headline(first):
            title = clean_unicode(first).strip()
            raw_paragraphs = raw_paragraphs[raw_paragraphs.index(first) + 1 :]
    paragraphs = clean_paragraphs(raw_paragraphs, title, str(meta.get("source") or ""))
    headline = bool(title)
    if not title:
        title = (
            Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize() or "Untitled"
        )
    if sum(len(p.split()) for p in paragraphs) < MIN_ARTICLE_WORDS:
        raise ArticleError(f"{name}: no article text found (empty or only page furniture)")
    date = parse_date(meta.get("date"), where=name)
    url = _text(meta.get("url"))
    source = clean_unicode(str(meta.get("source") or "")).strip() or "unknown source"
    claimed_source = _text(meta.get("claimed_source"))
    claimed_url = _text(meta.get("claimed_url"))
    if stored and not fetched_from:
        fetched_from = _text(meta.get("fetched_from"))  # our own record of where it came from
    if fetched_from:
        # What the page declares is its claim; what TradeTalk saw is its source and link.
        host = host_of(fetched_from) or "unknown host"
        if source not in ("unknown source", host) and not claimed_source:
            claimed_source = source
        if url and url != fetched_from and not claimed_url:
            claimed_url = url
        source, url = host, fetched_from
    paragraphs_t = tuple(paragraphs)
    stored_id = str(meta.get("id") or "") if stored else ""
    if bundled:
        article_id = make_article_id(title, date, url)
    elif stored_id and _STORED_ID.match(stored_id):
        article_id = stored_id  # written by TradeTalk when it saved the article
    elif fetched_from:
        article_id = fetched_article_id(fetched_from)
    else:
        provenance = (None, claimed_source, claimed_url)
        digest = content_hash(title, source, date, url, paragraphs_t, provenance)
        article_id = content_article_id(title, date, digest)
    return Article(
        id=article_id,
        title=title,
        source=source,
        date=date,
        url=url,
        paragraphs=paragraphs_t,
        bundled=bundled,
        path=path,
        fetched_from=fetched_from,
        claimed_source=claimed_source,
        claimed_url=claimed_url,
        headline=headline,
    )


def _text(value: object) -> str | None:
    text = str(value).strip() if value else ""
    return text or None


def _looks_like_headline(paragraph: str) -> bool:
    return len(paragraph.split()) <= 16 and not paragraph.rstrip().endswith((".", '"', "”"))


# LibYAML's loader when it is built (python-frontmatter's choice too): fast, and it stops deep
# nesting ("while increasing flow level") where the pure-Python one recurses.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _PlainYAMLHandler(frontmatter.YAMLHandler):
    """Front matter without anchors and aliases. ``&a [*b, *b, …]`` nested a few levels is a
    kilobyte that expands to gigabytes once anything reads it (a "billion laughs"); front
    matter is a few plain fields and never needs them. The document's events are read first
    (nothing is built from them, so nothing is expanded) and the first anchor or alias
    refuses it."""

    def load(self, fm: str, **kwargs: object) -> object:
        for event in yaml.parse(fm, Loader=_YAML_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.YAMLError("YAML anchors and aliases (&name, *name) are not allowed")
        return yaml.load(fm, Loader=_YAML_LOADER)  # a safe loader: plain data only


_YAML = _PlainYAMLHandler()


def parse_markdown(text: str, name: str) -> tuple[list[str], dict[str, object]]:
    try:
        handler = frontmatter.detect_format(text, frontmatter.handlers)
        if isinstance(handler, frontmatter.YAMLHandler):
            handler = _YAML
        post = frontmatter.loads(text, handler=handler)
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArticleError(f"{name}: bad front matter ({first})") from exc
    meta = dict(post.metadata) if isinstance(post.metadata, dict) else {}
    return split_paragraphs(post.content), meta


def parse_html(data: bytes | str, name: str) -> tuple[list[str], dict[str, object]]:
    import trafilatura  # heavy import, only needed for HTML

    try:
        doc = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            # No deduplicate=True: its cache is process-wide, so a page read twice (re-ingest,
            # rebuild) would come back empty the second time.
            deduplicate=False,
        )
    except Exception as exc:  # trafilatura raises many lxml/parser errors on broken markup
        raise ArticleError(f"{name}: could not extract article text from HTML") from exc
    if doc is None or not (doc.text or "").strip():
        raise ArticleError(f"{name}: no article text found in the HTML page")
    meta = {
        "title": doc.title,
        "source": doc.sitename or doc.hostname,
        "date": doc.date,
        "url": doc.url,
    }
    # trafilatura separates paragraphs with single newlines.
    return split_paragraphs(doc.text.replace("\n", "\n\n")), meta


def parse_article(
    data: bytes,
    name: str,
    *,
    max_bytes: int,
    bundled: bool = False,
    path: Path | None = None,
    defaults: dict[str, object] | None = None,
    fetched_from: str | None = None,
    stored: bool = False,
) -> Article:
    """Parse article bytes named `name` (its suffix picks the format). Raises `ArticleError`.

    `fetched_from` is the URL TradeTalk downloaded the bytes from: the article's identity, its
    source (the host) and its link; what the page declares becomes its claim. `stored` is for
    TradeTalk's own article files, whose ``id`` and ``fetched_from`` it wrote itself: in any
    other file they are ignored, so a file can't declare its way into another article's id."""
    if len(data) > max_bytes:
        raise ArticleError(f"{name}: {len(data):,} bytes is over the {max_bytes:,}-byte limit")
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise ArticleError(f"{name}: unsupported file type (use .md, .txt or .html)")
    if not data.strip():
        raise ArticleError(f"{name}: file is empty")
    if suffix in (".html", ".htm"):
        if b"\x00" in data[:8192]:
            raise ArticleError(f"{name}: looks like a binary file, not an article")
        raw, meta = parse_html(data, name)
    elif suffix in (".md", ".markdown"):
        raw, meta = parse_markdown(_decode(data, name), name)
    else:
        raw, meta = split_paragraphs(_decode(data, name)), {}
    merged = {**(defaults or {}), **{k: v for k, v in meta.items() if v}}
    return _build(
        name=name,
        raw_paragraphs=raw,
        meta=merged,
        bundled=bundled,
        path=path,
        stored=stored,
        fetched_from=fetched_from,
    )


def read_article(
    path: Path, *, max_bytes: int, bundled: bool = False, stored: bool = False
) -> Article:
    """Read one article file. Raises `ArticleError` with a one-line reason."""
    if path.is_dir():
        raise ArticleError(f"{path}: is a directory")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ArticleError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArticleError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ArticleError(f"{path}: is a directory") from None
    except PermissionError:
        raise ArticleError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ArticleError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return parse_article(
        data, path.name, max_bytes=max_bytes, bundled=bundled, path=path, stored=stored
    )
