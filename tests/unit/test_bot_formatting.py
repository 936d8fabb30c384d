"""Answers and lists as Discord messages: always within Discord's limits, cut between words."""

from __future__ import annotations

import re

import pytest
from fake_discord import limits

from bot import formatting
from retrieval.records import ArticleInfo
from tradetalk.answer import Answer, AnswerSentence, Citation
from tradetalk.engine import IngestResult


def accepted_by_discord(**message) -> None:
    """The fake Discord's validator, which answers 50035 exactly where Discord would."""
    if "embeds" in message:
        message["embeds"] = [e.to_dict() for e in message["embeds"]]
    limits.check_message(message)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def citation(
    number: int,
    *,
    title: str = "Talks resume",
    source: str = "Capital Wire",
    quote: str = "The talks resumed on Tuesday.",
    url: str | None = None,
) -> Citation:
    return Citation(
        number=number,
        article_id=f"a{number}",
        passage_ids=(f"a{number}#p1",),
        paragraphs=(1,),
        title=title,
        source=source,
        date="2018-09-11",
        url=url or f"https://example.org/{number}",
        quotes=(quote,),
    )


def answer(
    sentences: list[tuple[str, int]],
    citations: list[Citation],
    question: str = "What blocks the deal?",
) -> Answer:
    return Answer(
        question=question,
        abstained=False,
        sentences=tuple(AnswerSentence(text=t, citation=n) for t, n in sentences),
        citations=tuple(citations),
        hits=(),
        confidence=0.8,
    )


# -- trimming -----------------------------------------------------------------------------------


def test_trim_keeps_text_that_fits() -> None:
    assert formatting.trim("Short enough.", 20) == "Short enough."


def test_trim_cuts_at_a_sentence_end() -> None:
    text = "First sentence here. Second sentence is rather longer than the first one."
    assert formatting.trim(text, 40) == "First sentence here. …"


def test_trim_inside_one_long_sentence_cuts_between_words() -> None:
    text = "word " * 1000
    out = formatting.trim(text, 100)
    assert len(out) <= 100 and out.endswith(" …")
    assert all(w == "word" for w in out[:-2].split())


def test_trim_a_single_giant_word_has_no_choice() -> None:
    out = formatting.trim("x" * 5000, 50)
    assert len(out) == 50 and out.endswith(" …")


@pytest.mark.parametrize("limit", [3, 10, 57, 256, 1024])
def test_fit_counts_the_escapes(limit: int) -> None:
    text = "**bold** _it_ ``` @everyone <@123456789012345678> " * 100
    out = formatting.fit(text, limit)
    assert len(out) <= limit
    assert "@everyone" not in out and "<@123456789012345678>" not in out


# -- answers ------------------------------------------------------------------------------------


def test_answer_embed_shows_sentences_and_linked_sources_without_repeating_them() -> None:
    shown = formatting.answer_embed(
        answer(
            [("Dairy is the sticking point.", 1)],
            [citation(1, quote="Dairy is the sticking point. Autos too.")],
        )
    )
    assert shown.title == "What blocks the deal?"
    assert shown.description == "Dairy is the sticking point. [1]"
    [field] = shown.fields
    assert field.name == "[1] Capital Wire, 2018-09-11"
    # The title carries the link; the passage is behind "Show passages", not quoted again.
    assert field.value == "[Talks resume](https://example.org/1) · ¶1"
    assert "Dairy" not in field.value and "<https://" not in str(shown.to_dict())
    accepted_by_discord(embeds=[shown])


def test_a_broad_answer_lists_dated_points_and_a_citation_names_its_paragraphs() -> None:
    two_paragraphs = Citation(
        number=1,
        article_id="a1",
        passage_ids=("a1#p2", "a1#p7"),
        paragraphs=(2, 7),
        title="Talks resume",
        source="Capital Wire",
        date="2018-10-01",
        url="https://example.org/1",
        quotes=("Dairy is settled.", "Autos are not."),
    )
    older = citation(2)
    points = Answer(
        question="what's the latest?",
        abstained=False,
        sentences=(
            AnswerSentence(text="Dairy is settled.", citation=1, published="2018-10-01"),
            AnswerSentence(text="Autos are not.", citation=1, published="2018-10-01"),
            AnswerSentence(
                text="The talks resumed on Tuesday.", citation=2, published="2018-09-11"
            ),
        ),
        citations=(two_paragraphs, older),
        hits=(),
        confidence=0.8,
        points=True,
    )
    shown = formatting.answer_embed(points)
    assert shown.description.splitlines() == [
        "• 2018-10-01: Dairy is settled. [1]",
        "• 2018-10-01: Autos are not. [1]",
        "• 2018-09-11: The talks resumed on Tuesday. [2]",
    ]
    first = shown.fields[0]
    assert "¶2, ¶7" in first.value and "Dairy is settled." not in first.value
    accepted_by_discord(embeds=[shown])


def test_hostile_answer_stays_within_every_limit() -> None:
    giant = "The negotiators met again " + "and again " * 500 + "before dawn."  # ~5,000 chars
    markup = "```python\nprint('@everyone')``` **bold** <@123456789012345678> ||spoiler|| > quote"
    cites = [
        citation(
            n,
            title=f"{markup} headline {n} " * 20,
            source="Outlet " * 100,
            quote=f"{giant} {markup}",
            url="https://example.org/" + "p/" * 2000,
        )
        for n in range(1, 41)
    ]
    shown = formatting.answer_embed(
        answer([(giant, 1), (giant + markup, 2), (markup, 3)], cites, question=giant)
    )
    accepted_by_discord(embeds=[shown], content="")
    assert len(shown.fields) <= formatting.CITATIONS_SHOWN + 1
    assert shown.fields[-1].value == "…and 30 more sources"
    assert "@everyone" not in str(shown.to_dict()) and "<@123" not in str(shown.to_dict())
    # Every sentence keeps its citation number, however long it was.
    assert [m for m in re.findall(r"\[(\d+)\]", shown.description)] == ["1", "2", "3"]
    assert "```" not in shown.description  # code fences show as text, they don't open a block


def test_long_sentence_is_cut_between_words() -> None:
    words = [f"w{n}" for n in range(3000)]
    shown = formatting.answer_embed(answer([(" ".join(words), 1)], [citation(1)]))
    body = shown.description.removesuffix(" [1]")
    assert body.endswith(" …")
    kept = unescape(body[: -len(" …")]).split()
    assert kept == words[: len(kept)]


def test_not_covered_text_fits_in_a_message() -> None:
    titles = "; ".join(f"“Headline number {n} about trade”" for n in range(300))
    abstained = Answer(
        question="q",
        abstained=True,
        sentences=(),
        citations=(),
        hits=(),
        confidence=0.1,
        coverage=f"They are 300 articles: {titles}.",
    )
    text = formatting.not_covered_text(abstained)
    assert text.startswith("My articles don't cover that.")
    accepted_by_discord(content=text)


# -- lists --------------------------------------------------------------------------------------


def article(n: int, **changes) -> ArticleInfo:
    values = dict(
        id=f"2018-09-{n % 28 + 1:02d}-story-{n}",
        title=f"Story number {n} about trade",
        source="Capital Wire",
        date=f"2018-09-{n % 28 + 1:02d}",
        url=f"https://example.org/{n}",
        content_hash="h",
        bundled=False,
        passage_count=5,
        duplicate_of=None,
    )
    return ArticleInfo(**(values | changes))


def test_sources_embed_with_many_articles_fits_on_pages() -> None:
    articles = [article(n, title="@everyone " + "long title " * 30) for n in range(500)]
    pages = formatting.source_pages(articles)
    assert sum(map(len, pages)) == 500  # every article is on a page: none is "…and N more"
    assert all(len(page) <= formatting.SOURCES_PER_PAGE for page in pages)
    for n in (0, len(pages) // 2, len(pages) - 1):
        shown = formatting.sources_embed(articles, n)
        accepted_by_discord(embeds=[shown])
        assert shown.title == "Sources (500 articles)"
        assert shown.footer.text == f"Page {n + 1} of {len(pages)}"
        assert "](https://example.org/" in shown.description  # titles link to the articles


def test_about_embed_counts_originals_and_dates() -> None:
    articles = [article(1), article(5), article(9, duplicate_of="x")]
    shown = formatting.about_embed(articles, ["dairy", "autos"])
    assert "**2 news articles** dated 2018-09-02 to 2018-09-06" in shown.description
    assert "Issues covered: dairy, autos." in shown.description
    accepted_by_discord(embeds=[shown])


def test_removable_choices_are_added_articles_within_limits() -> None:
    articles = [article(n, title="Trade " * 40) for n in range(40)]
    articles.append(article(99, bundled=True, title="Bundled trade story"))
    choices = formatting.removable_choices(articles, "trade")
    assert len(choices) == 25 and all(len(c.name) <= 100 for c in choices)
    assert all(c.value != articles[-1].id for c in choices)
    assert [c.value for c in formatting.removable_choices(articles, "story-7")] == [
        "2018-09-08-story-7"
    ]


def test_ingest_text_names_the_article_passages_and_issues() -> None:
    added = IngestResult("added", article(3, title="Dairy deal reached"))
    text = formatting.ingest_text(added, ["dairy"])
    assert text.startswith("Added “Dairy deal reached” (Capital Wire · 2018-09-04, id")
    assert "5 passages, answerable now" in text and "touches: dairy." in text
    copy = IngestResult("added", article(4), duplicate_of=article(3))
    assert "near-copy of “Story number 3 about trade”" in formatting.ingest_text(copy, [])
    same = IngestResult("unchanged", article(3))
    assert formatting.ingest_text(same, []).endswith("nothing changed.")
