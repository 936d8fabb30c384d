"""Discord formatting injection: article text, titles, outlets and questions that hold mentions,
masked links, code fences, spoilers, headings or bidi controls show as written. They can't ping
anyone (that is ``allowed_mentions``, tested end to end), render as links or markup, or pull the
citation markers of an answer into a code block."""

from __future__ import annotations

import re

import pytest
from fake_discord import limits
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import formatting
from bot.cogs.audit import audit_embed
from retrieval.records import ArticleInfo
from tradetalk.answer import Answer, AnswerSentence, Citation
from tradetalk.audit import AuditEntry
from tradetalk.engine import IngestResult

ID = "123456789012345678"  # mentions need a real-looking 17-20 digit snowflake
MENTIONS = [
    "@everyone",
    "@here",
    f"<@{ID}>",
    f"<@!{ID}>",
    f"<@&{ID}>",
    f"<#{ID}>",
    f"</ask:{ID}>",
    "<t:1538352000:R>",
]
MARKUP = [
    "[click](https://evil.example/a)",
    "```",
    "```py\nprint(1)",
    "`",
    "||spoiler||",
    "**bold**",
    "__under__",
    "~~gone~~",
    "*it*",
    "# big",
    "## big",
    "-# small",
    "> quote",
    ">>> quote",
    "- item",
    "\\",
    "\u202e",
    "\u2067",
    "\u202d",
]
HOSTILE = MENTIONS + MARKUP
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
MASKED_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
# A masked link the bot makes: escaped text (no bare "]"), a plain http(s) address.
OUR_LINK = re.compile(r"\[(?P<text>(?:\\.|[^\]\\])*)\]\((?P<url>https?://[^\s()<>]+)\)(?: · ¶\d+)?")
MENTION_SYNTAX = re.compile(r"<(?:@[!&]?|#)\d+>|@everyone|@here|</[^<>]+:\d+>|<t:-?\d+")


def visible(text: str) -> str:
    """What Discord treats as markup in ``text``: escaped characters (``\\x``) removed."""
    return re.sub(r"\\.", "", text, flags=re.S)


def assert_inert(text: str) -> None:
    """``text`` (one escaped piece of user text) renders no markup, link or mention."""
    left = visible(text)
    assert not set("*_`~|\\") & set(left), (text, left)
    assert not MASKED_LINK.search(left), text
    assert not re.search(r"^\s*(?:>|#|-)", text, re.M), text  # an escaped one starts with \\
    assert not MENTION_SYNTAX.search(text), text
    assert not BIDI.search(text), text


def citation(
    number: int,
    *,
    title: str = "Talks resume",
    source: str = "Capital Wire",
    quote: str = "The talks resumed on Tuesday.",
) -> Citation:
    return Citation(
        number=number,
        article_id=f"a{number}",
        passage_ids=(f"a{number}#p1",),
        paragraphs=(1,),
        title=title,
        source=source,
        date="2018-09-11",
        url=f"https://example.org/{number}",
        quotes=(quote,),
    )


def answer(
    sentences: list[str],
    question: str = "What blocks the deal?",
    title: str = "Talks resume",
    source: str = "Capital Wire",
) -> Answer:
    return Answer(
        question=question,
        abstained=False,
        sentences=tuple(AnswerSentence(text=t, citation=n) for n, t in enumerate(sentences, 1)),
        citations=tuple(
            citation(n, title=title, source=source, quote=t) for n, t in enumerate(sentences, 1)
        ),
        hits=(),
        confidence=0.8,
    )


def description_pieces(description: str, count: int) -> list[str]:
    """The escaped sentences of an answer, split at their own " [n]" markers (which must all
    be there, in order, outside any markup)."""
    pieces = re.split(r" \[(\d+)\](?: |$)", description)
    assert pieces[1::2] == [str(n) for n in range(1, count + 1)], description
    return [p for p in pieces[0::2] if p]


def check_answer_embed(shown: Answer) -> None:
    embed = formatting.answer_embed(shown)
    limits.check_message({"embeds": [embed.to_dict()]})  # what Discord accepts
    count = len(shown.sentences)
    for piece in description_pieces(embed.description or "", count):
        assert_inert(piece)
    assert_inert(embed.title or "")
    # One field per source, each still starting with its own number: nothing merged them.
    assert [f.name.split(" ", 1)[0] for f in embed.fields] == [
        f"[{n}]" for n in range(1, count + 1)
    ]
    for field in embed.fields:
        outlet = field.name.split(" ", 1)[1].removesuffix(", 2018-09-11")
        assert_inert(outlet)
        # The title, linked to its article: its words inert inside the one link we made.
        link = OUR_LINK.fullmatch(field.value)
        assert link is not None and "\n" not in field.value, field.value
        assert_inert(link["text"])
        assert link["url"].startswith("https://example.org/")


# -- one sample of everything -------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_each_hostile_snippet_is_inert_everywhere_in_an_answer(hostile: str) -> None:
    sentence = f"Negotiators said {hostile} the dairy deal was close."
    check_answer_embed(
        answer(
            [sentence, f"{hostile} Autos were settled.", f"Steel remains open {hostile}"],
            question=f"What did {hostile} say about dairy?",
            title=f"{hostile} headline",
            source=f"{hostile} Wire",
        )
    )


def test_two_masked_links_in_one_sentence_are_both_shown_as_text() -> None:
    """discord.py's escape_markdown matches ``[a](x) ... [b](y)`` as one link and escapes only
    the first bracket, so the second would render as a link named "b"."""
    sentence = "Read [the memo](https://evil.example/a) and [the annex](https://evil.example/b)."
    shown = formatting.answer_embed(answer([sentence]))
    assert not MASKED_LINK.search(visible(shown.description or ""))
    assert OUR_LINK.fullmatch(shown.fields[0].value)  # the title's link, and only that
    assert "https://evil.example/b" in shown.description  # the address itself stays readable


def test_channel_command_and_time_mentions_show_as_written() -> None:
    sentence = f"Officials posted in <#{ID}>, used </ask:{ID}> and set <t:1538352000:R>."
    shown = formatting.answer_embed(answer([sentence]))
    assert not MENTION_SYNTAX.search(shown.description or "")
    # Only invisible characters were added: the words read the same.
    assert (
        visible(shown.description or "")
        .replace("\u200b", "")
        .startswith("Officials posted in <#" + ID)
    )


def test_bidi_controls_cannot_reorder_the_citations() -> None:
    """A right-to-left override in a quoted sentence would flip everything after it on the line,
    citation numbers included."""
    shown = formatting.answer_embed(
        answer(["Canada said \u202eno deal\u202c on dairy.", "Mexico \u2067agreed."])
    )
    assert not BIDI.search(str(shown.to_dict()))
    assert "Canada said no deal on dairy." in shown.description


def test_a_fence_in_one_sentence_cannot_pair_with_the_next() -> None:
    """Each sentence is escaped on its own and then joined: an unescaped fence or backtick left
    at the end of one would open a code block that swallows the next citation number."""
    shown = formatting.answer_embed(answer(["Trade ``` talks", "stalled ` again", "``` today"]))
    assert "`" not in visible(shown.description or "")
    assert re.findall(r"\[(\d)\]", shown.description or "") == ["1", "2", "3"]


# -- property: whatever mix arrives -------------------------------------------------------------

HOSTILE_TEXT = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="ab .,\n", max_size=12)),
    min_size=1,
    max_size=12,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    sentences=st.lists(HOSTILE_TEXT, min_size=1, max_size=4),
    question=HOSTILE_TEXT,
    title=HOSTILE_TEXT,
    source=HOSTILE_TEXT,
)
def test_any_hostile_answer_is_inert_and_keeps_its_layout(
    sentences: list[str], question: str, title: str, source: str
) -> None:
    sentences = [f"Word {s} end." for s in sentences]  # never blank
    check_answer_embed(
        answer(sentences, question=f"Why {question}?", title=f"T {title}", source=f"S {source}")
    )


# -- the other replies that carry article text --------------------------------------------------


def article(title: str, source: str = "Capital Wire") -> ArticleInfo:
    return ArticleInfo(
        id="2018-09-01-story-abc123",
        title=title,
        source=source,
        date="2018-09-01",
        url="https://example.org/1",
        content_hash="h",
        bundled=False,
        passage_count=4,
        duplicate_of=None,
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_not_covered_ingest_and_removed_texts_are_inert(hostile: str) -> None:
    abstained = Answer(
        question="q",
        abstained=True,
        sentences=(),
        citations=(),
        hits=(),
        confidence=0.1,
        coverage=f"They are 1 article: “{hostile} headline”.",
    )
    not_covered = formatting.not_covered_text(abstained)
    assert_inert(not_covered.removeprefix("My articles don't cover that. "))
    info = article(f"{hostile} headline", source=f"{hostile} Wire")
    for text in (
        formatting.ingest_text(IngestResult("added", info), []),
        formatting.removed_text(info),
    ):
        title = re.search(r"“(.*)”", text, re.S)
        assert title is not None
        assert_inert(title[1])
        assert not MENTION_SYNTAX.search(text) and not BIDI.search(text)


def test_sources_embed_is_inert() -> None:
    shown = formatting.sources_embed([article(" ".join(HOSTILE), source=" ".join(HOSTILE))])
    limits.check_message({"embeds": [shown.to_dict()]})
    line = (shown.description or "").removeprefix("• ")
    link = OUR_LINK.match(line)
    assert link is not None, line
    assert_inert(link["text"])
    assert_inert(line[link.end() :].removeprefix(" — ").removesuffix(", 2018-09-01"))


# -- /audit -------------------------------------------------------------------------------------


def entry(n: int, **changes: str) -> AuditEntry:
    values = dict(
        at=f"2018-09-{n % 28 + 1:02d}T10:00:00+00:00",
        actor=f"discord:{ID} (admin)",
        action="ingest",
        target=f"2018-09-01-story-{n}",
        outcome="ok",
        detail="",
    )
    return AuditEntry(**(values | changes))


def test_audit_embed_lists_who_did_what_and_when() -> None:
    shown = audit_embed(
        [
            entry(1, action="reindex", target="all"),
            entry(2, actor="cli:root", action="remove", outcome="failed", detail="no such article"),
            entry(3, actor=f"discord:{ID} (member)", outcome="refused", detail="not an admin"),
            entry(4, actor="feed"),
        ]
    )
    limits.check_message({"embeds": [shown.to_dict()]})
    lines = (shown.description or "").splitlines()
    assert len(lines) == 4
    # Discord's timestamp markup: each reader's own time zone, "3 days ago" with the date on hover.
    assert lines[0].startswith("<t:1535882400:R> ")  # 2018-09-02 10:00 UTC
    assert "reindex" in lines[0] and "all" in lines[0] and "ok" in lines[0]
    assert f"by <@{ID}>" in lines[0]  # a mention (shown as a name; it pings nobody)
    assert "cli:root" in lines[1] and "failed" in lines[1] and "no such article" in lines[1]
    assert "refused" in lines[2] and f"<@{ID}>" in lines[2] and "(member)" not in lines[2]
    assert "by a feed" in lines[3]
    assert "UTC" not in (shown.footer.text or "")


def test_audit_embed_is_empty_friendly() -> None:
    assert "No admin actions" in (audit_embed([]).description or "")


def test_hostile_audit_entries_stay_inert_and_within_limits() -> None:
    hostile = " ".join(HOSTILE)
    entries = [
        entry(n, actor=f"discord:{ID} ({hostile})", target=hostile * 5, detail=hostile * 20)
        for n in range(40)
    ]
    shown = audit_embed(entries)
    limits.check_message({"embeds": [shown.to_dict()]})
    ours = re.compile(rf"^<t:\d+:R> |by <@{ID}>")  # the time and the actor are our markup
    assert not BIDI.search(str(shown.to_dict()))
    lines = (shown.description or "").splitlines()
    assert lines[-1].startswith("…and ") and lines[-1].endswith(" more")
    for line in lines[:-1]:
        rest = ours.sub("", line)
        assert not MENTION_SYNTAX.search(rest), rest
        assert_inert(rest.replace(" · ", " "))  # our separators are plain text
