"""Property-based tests: whatever bytes or text arrive, parsing and asking either work or fail
with a clear one-line error; never a crash, never a damaged index."""

from __future__ import annotations

import pytest
from conftest import HashingEncoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import Settings
from corpus.articles import parse_article
from tradetalk.engine import Engine
from tradetalk.errors import ArticleError, QuestionError
from tradetalk.questions import check_question

NASTY_CHARS = st.sampled_from(
    [
        "\x00",
        "\u200b",
        "\u200f",
        "\u202e",
        "\ufeff",
        "```",
        "@everyone",
        "<@123>",
        "](http://x)",
        "\n\n",
        "—",
        "“",
        "U.S.",
        "m-i-l-k",
        "\ud7ff",
        "🙂",
        "<div>",
        "</p>",
        "---\n",
        "\r\n",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(st.text(max_size=40), NASTY_CHARS), max_size=40).map("".join)
# What a question can also be: lone surrogates (bytes that were not UTF-8, read with
# "surrogateescape"; a JSON "\ud800"), and long questions made of real words, so that the
# length check is the only thing that can refuse them (random long text is refused as
# gibberish first, and so never showed whether the length check holds).
SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=4)
WORDS = st.sampled_from(["what", "blocks", "the", "deal", "on", "dairy", "Canada", "tariffs"])
LONG_QUESTION = st.lists(WORDS, min_size=120, max_size=600).map(" ".join)
QUESTION = st.one_of(
    HOSTILE_TEXT,
    LONG_QUESTION,
    st.lists(st.one_of(st.text(max_size=20), NASTY_CHARS, SURROGATES, WORDS), max_size=30).map(
        " ".join
    ),
    st.tuples(LONG_QUESTION, HOSTILE_TEXT, SURROGATES).map(" ".join),
)
MAX_CHARS = 1000
SUFFIXES = st.sampled_from(["a.md", "a.txt", "a.html"])
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _one_line(exc: Exception) -> None:
    assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(data=st.binary(max_size=4000), name=SUFFIXES)
def test_random_bytes_parse_or_fail_cleanly(data: bytes, name: str) -> None:
    try:
        article = parse_article(data, name, max_bytes=100_000)
    except ArticleError as exc:
        _one_line(exc)
        return
    assert article.paragraphs and all(p.strip() for p in article.paragraphs)
    assert "\x00" not in article.text


@FUZZ
@given(body=HOSTILE_TEXT, title=HOSTILE_TEXT, name=SUFFIXES)
def test_hostile_text_parses_or_fails_cleanly(body: str, title: str, name: str) -> None:
    if name.endswith(".md"):
        data = f"---\ntitle: {title!r}\n---\n\n{body}".encode("utf-8", "surrogatepass")
    elif name.endswith(".html"):
        data = f"<html><title>{title}</title><body><p>{body}</p></body></html>".encode(
            "utf-8", "surrogatepass"
        )
    else:
        data = body.encode("utf-8", "surrogatepass")
    try:
        article = parse_article(data, name, max_bytes=100_000)
    except ArticleError as exc:
        _one_line(exc)
        return
    for passage_text in article.paragraphs:
        assert passage_text == passage_text.strip()


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (
            b"<div>" * 20_000 + b"Deep text of the article goes here today." + b"</div>" * 20_000,
            "deep.html",
            "no article text found in the HTML page",
        ),
        # Refused by the size cap, before anything reads it (without the cap it fails later,
        # as "no article text", which is why the reason is checked).
        (b"x" * 3_000_000, "long-line.txt", "3,000,000 bytes is over the 2,000,000-byte limit"),
        (
            b"<html><body>" + b"<p>" * 5000 + b"</body></html>",
            "unclosed.html",
            "no article text found in the HTML page",
        ),
        (b"---\n" + b"a: [" * 2000 + b"\n---\nbody", "yaml-bomb.md", "bad front matter"),
        (b"\xef\xbb\xbf\xe2\x80\x8b\xe2\x80\x8f   ", "invisible.txt", "no article text found"),
    ],
)
def test_pathological_files_fail_cleanly(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article(data, name, max_bytes=2_000_000)
    _one_line(caught.value)
    assert str(caught.value).startswith(f"{name}: {reason}")


@FUZZ
@given(question=QUESTION)
def test_questions_are_checked_never_crash(question: str) -> None:
    try:
        checked = check_question(question, max_chars=MAX_CHARS)
    except QuestionError as exc:
        _one_line(exc)
    else:
        assert checked.strip() and len(checked) <= MAX_CHARS
        checked.encode("utf-8")  # real text: no lone surrogate reaches the tokenizer


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory):
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("fuzz")), encoder=HashingEncoder())
    engine.open()
    return engine


@FUZZ
@given(question=QUESTION)
def test_any_question_gets_an_answer_or_a_message(fuzz_engine, question: str) -> None:
    try:
        answer = fuzz_engine.ask(question)
    except QuestionError as exc:
        _one_line(exc)
    else:
        assert answer.abstained or answer.sentences
        assert len(answer.question) <= MAX_CHARS
        answer.question.encode("utf-8")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=HOSTILE_TEXT)
def test_hostile_articles_never_damage_the_index(fuzz_engine, body: str) -> None:
    words = "Negotiators met again in Washington on dairy and autos today. "
    data = f"---\ntitle: Fuzzed\nsource: Test\n---\n\n{words}{body}\n\n{words}".encode(
        "utf-8", "surrogatepass"
    )
    try:
        fuzz_engine.ingest_bytes(data, "fuzz.md")
    except ArticleError as exc:
        _one_line(exc)
    index = fuzz_engine.index
    assert sum(a.passage_count for a in index.articles.values()) == len(index)
    reopened = Engine(fuzz_engine.settings, encoder=HashingEncoder())
    reopened.open()
    assert len(reopened.index) == len(index)
