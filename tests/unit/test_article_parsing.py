"""Reading articles: formats, metadata, stable ids, and one clear error for bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from corpus.articles import fetched_article_id, make_article_id, parse_article, read_article
from corpus.library import BUNDLED_DIR
from tradetalk.errors import ArticleError

MD = b"""---
title: Dairy dispute drags on
source: Example Wire
date: 2018-09-05
url: https://example.com/dairy
---

Canada and the United States remained apart on dairy on Wednesday, officials said.

Advertisement

Negotiators will meet again next week in Washington to try to close the gap.
"""
BODY = b"Canada and the United States remained apart on dairy on Wednesday, officials said."


def parse(data: bytes, name: str = "a.md", **kw):
    return parse_article(data, name, max_bytes=kw.pop("max_bytes", 100_000), **kw)


def test_markdown_front_matter_and_paragraphs() -> None:
    article = parse(MD)
    assert article.title == "Dairy dispute drags on"
    assert article.source == "Example Wire"
    assert article.date == dt.date(2018, 9, 5)
    assert article.url == "https://example.com/dairy"
    assert article.paragraphs == (
        "Canada and the United States remained apart on dairy on Wednesday, officials said.",
        "Negotiators will meet again next week in Washington to try to close the gap.",
    )


def test_plain_text_takes_its_headline_as_title() -> None:
    text = (
        b"Talks stall over milk\n\nThe two sides could not agree on dairy access on Monday night."
    )
    article = parse(text, "story.txt")
    assert article.title == "Talks stall over milk"
    assert article.date is None and article.source == "unknown source"
    assert article.paragraphs == ("The two sides could not agree on dairy access on Monday night.",)


def test_html_main_text_without_boilerplate() -> None:
    html = b"""<html><head><title>Deal near | Capital Wire</title>
    <meta property="og:site_name" content="Capital Wire">
    <meta property="article:published_time" content="2018-09-05T10:00:00Z"></head>
    <body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
    <article><h1>Deal near</h1>
    <p>The U.S. and Canada are close to a deal, officials said on Wednesday in Ottawa after talks.</p>
    <p>Dairy remains the sticking point, according to several people familiar with the matter.</p>
    </article><aside>Most read: Loonie jumps as traders cheer</aside>
    <footer>Copyright 2018 Capital Wire</footer></body></html>"""
    article = parse(html, "page.html")
    assert article.title == "Deal near"
    assert article.source == "Capital Wire"
    assert article.date == dt.date(2018, 9, 5)
    text = " ".join(article.paragraphs)
    assert "sticking point" in text
    assert "Loonie" not in text and "Copyright" not in text and "Home" not in text


def test_ids_are_stable_and_readable() -> None:
    first, second = parse(MD), parse(MD)
    assert first.id == second.id
    assert first.id.startswith("2018-09-05-dairy-dispute-drags-on-")
    assert first.content_hash == second.content_hash
    # A file's identity is its content (tests/unit/test_article_identity.py): an edited
    # copy is another article, never a silent replacement of this one.
    edited = parse(MD.replace(b"next week", b"on Friday"))
    assert edited.id != first.id and edited.content_hash != first.content_hash


def test_the_bundled_article_keeps_its_id() -> None:
    """Answers, tests and ../shared/eval cite it by this id."""
    article = read_article(
        BUNDLED_DIR / "nafta-talks-2018-09-11.md", max_bytes=1_000_000, bundled=True
    )
    assert article.id == "2018-09-11-trump-says-nafta-deal-with-canada-b27bba"
    assert article.id == make_article_id(article.title, article.date, article.url)


def test_bundled_seed_article_is_clean_and_has_its_metadata() -> None:
    article = read_article(BUNDLED_DIR / "nafta-talks-2018-09-11.md", max_bytes=1_000_000)
    assert article.title == "Trump says NAFTA deal with Canada coming along 'very well'"
    assert article.source == "BNN Bloomberg (Bloomberg News)"
    assert article.date == dt.date(2018, 9, 11)
    assert article.url and article.url.startswith("https://www.bnnbloomberg.ca/")
    text = article.text
    for junk in (
        "poll image",
        "Total Results",
        "What should Canada do at the NAFTA negotiating table?",
    ):
        assert junk not in text
    assert "m-i-l-k" in text  # answers quote the original spelling


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.md", "file is empty"),
        (b"   \n\n ", "blank.txt", "file is empty"),
        (b"\x00\x01\x02binary", "x.txt", "binary"),
        (b"\xff\xfe\xfa not utf8 at all", "x.txt", "not UTF-8"),
        (b"Advertisement\n\nShare this story", "junk.txt", "no article text"),
        (b"---\ntitle: [unclosed\n---\nbody text here", "bad.md", "bad front matter"),
        (b"---\ndate: yesterday\n---\n" + b"Some words here. " * 5, "d.md", "not YYYY-MM-DD"),
        (b"words " * 50, "x.pdf", "unsupported file type"),
    ],
)
def test_bad_input_gets_one_clear_line(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse(data, name)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert name in str(caught.value)


def test_size_cap() -> None:
    with pytest.raises(ArticleError, match="over the 1,000-byte limit"):
        parse(b"word " * 400, "big.txt", max_bytes=1_000)


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such file"):
        read_article(tmp_path / "nope.md", max_bytes=1000)
    with pytest.raises(ArticleError, match="is a directory"):
        read_article(tmp_path, max_bytes=1000)


def test_the_same_html_page_parses_twice_in_one_process() -> None:
    html = (
        b"<html><head><title>Twice</title></head><body><article>"
        b"<p>Negotiators met again on Monday in Washington to discuss dairy access.</p>"
        b"<p>Both sides said they expected to meet again later in the week.</p>"
        b"</article></body></html>"
    )
    assert parse(html, "a.html").paragraphs == parse(html, "b.html").paragraphs


def _alias_bomb(depth: int) -> bytes:
    """Front matter whose title is an alias of a list of aliases ... `depth` deep: a few
    hundred bytes that expand to 9**depth items once read (a "billion laughs")."""
    lines = ["---", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines += [f"title: *a{depth}", "---", "", "Negotiators met again on Friday. " * 3]
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    ("data", "where"),
    [
        # The bomb is 8 deep (2.4 GB, then MemoryError); 5 deep (59,049 items) shows the
        # refusal without letting a regression of this test eat gigabytes.
        (_alias_bomb(5), "a0"),
        (b"---\nsource: &s Wire\ntitle: *s\n---\n\n" + b"Negotiators met on Friday. " * 3, "s"),
        (b"---\nbase: &b {source: W}\nmore:\n  <<: *b\n---\n\n" + b"Talks went on. " * 5, "b"),
    ],
)
def test_yaml_anchors_and_aliases_in_front_matter_are_refused(data: bytes, where: str) -> None:
    """Refused while the YAML is composed, before anything is expanded."""
    with pytest.raises(ArticleError) as caught:
        parse(data, "bomb.md")
    message = str(caught.value)
    assert message.startswith("bomb.md: bad front matter (YAML anchors and aliases")
    assert "\n" not in message


def test_an_overlong_title_or_link_gives_an_id_that_fits_a_file_name() -> None:
    """The id is the article's file name: it stays short whatever the title or link path, and
    keeps the hash that tells articles apart."""
    long_title = parse(b"---\ntitle: " + b"T" * 10_000 + b"\ndate: 2018-09-09\n---\n\n" + BODY)
    other = parse(b"---\ntitle: " + b"T" * 9_999 + b"\ndate: 2018-09-09\n---\n\n" + BODY)
    link = "http://127.0.0.1:8080/a/" + "a" * 300
    fetched = parse_article(
        b"<html><body><article><p>" + BODY + b"</p></article></body></html>",
        "page.html",
        max_bytes=100_000,
        fetched_from=link,
    )
    for article in (long_title, other, fetched):
        assert len(f"{article.id}.md".encode()) <= 120, article.id
    assert long_title.id.startswith("2018-09-09-tttttttt") and long_title.id != other.id
    assert fetched.id == fetched_article_id(link)
    assert fetched.id != fetched_article_id(link + "a")
