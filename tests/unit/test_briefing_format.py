"""Issue briefings, the issue list and "what's new" as Discord messages: within Discord's limits
whatever the articles hold, every sentence verbatim (cut only between words), nothing pinging."""

from __future__ import annotations

import re

import pytest
from fake_discord import limits

from bot import briefing_format as bf
from bot.formatting import shares
from briefings.briefing import (
    Briefing,
    CitedSentence,
    IssueStatus,
    IssueUpdate,
    Position,
    TimelineEntry,
)
from briefings.catalogue import Issue

HOSTILE = "**bold** _it_ ``` @everyone @here <@123456789012345678> > quoted # heading"
LONG_SENTENCE = "The U.S. wants concessions on dairy " + "and on many other things " * 200 + "."


def accepted_by_discord(**message) -> None:
    """The fake Discord's validator, which answers 50035 exactly where Discord would."""
    if "embeds" in message:
        message["embeds"] = [e.to_dict() for e in message["embeds"]]
    limits.check_message(message)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def visible(embeds) -> str:
    parts = []
    for e in embeds:
        parts += [e.title or "", e.description or "", e.footer.text or ""]
        parts += [f"{f.name}\n{f.value}" for f in e.fields]
    return "\n".join(parts)


def issue(
    n: int = 0,
    *,
    title: str = "Dairy and supply management",
    parties=("us", "canada"),
    aliases=("milk", "supply management"),
) -> Issue:
    return Issue(
        id=f"dairy-{n}" if n else "dairy",
        title=title,
        aliases=aliases,
        description="Canada's supply-managed dairy market and U.S. demands for access.",
        parties=parties,
    )


def sentence(
    text: str,
    n: int = 1,
    *,
    title: str = "Talks stall over dairy",
    source: str = "Capital Wire",
    date: str | None = "2018-09-11",
    also_in: tuple[tuple[str, str], ...] = (),
) -> CitedSentence:
    return CitedSentence(
        text=text,
        article_id=f"a{n}",
        passage_id=f"a{n}#p1",
        title=title,
        source=source,
        date=date,
        url=f"https://example.org/{n}",
        also_in=also_in,
    )


def briefing(
    *,
    standing=(),
    positions=(),
    timeline=(),
    parties=(("us", "U.S."), ("canada", "Canada")),
    the_issue: Issue | None = None,
) -> Briefing:
    articles = {
        s.article_id
        for s in [*standing, *(p.sentence for p in positions), *(e.sentence for e in timeline)]
    }
    return Briefing(
        issue=the_issue or issue(),
        parties=tuple(parties),
        standing=tuple(standing),
        positions=tuple(positions),
        timeline=tuple(timeline),
        article_count=len(articles),
        index_version="v1",
    )


KUDLOW = sentence(
    "White House economic adviser Larry Kudlow said on Friday that it's “m-i-l-k” "
    "that continues to block a deal.",
    1,
    date="2018-09-11",
)
DAIRY = sentence(
    "Canada's protected dairy sector isn't in the current deal but the U.S. wants concessions.",
    2,
    source="BNN Bloomberg",
    date="2018-09-12",
    also_in=(("a3", "Riverside Gazette"),),
)


def dairy_briefing() -> Briefing:
    return briefing(
        standing=[DAIRY],
        positions=[
            Position("us", "U.S.", DAIRY, None, "wants"),
            Position("us", "U.S.", KUDLOW, "Larry Kudlow", "said"),
        ],
        timeline=[
            TimelineEntry("2018-09-07", "Friday", KUDLOW),
            TimelineEntry("2018-09-12", "published", DAIRY),
        ],
    )


# -- /issue -------------------------------------------------------------------------------------


def test_briefing_shows_standing_positions_timeline_and_numbered_sources() -> None:
    embeds = bf.briefing_embeds(dairy_briefing())
    accepted_by_discord(embeds=embeds)
    main, timeline, sources = embeds
    assert main.title == "Dairy and supply management"
    assert "*Mentioned in 2 articles.*" in main.description
    assert (
        "**Where it stands**\n> Canada's protected dairy sector isn't in the current deal "
        "but the U.S. wants concessions. [1]" in main.description
    )
    us, canada = main.fields
    assert us.name == "Positions: U.S." and canada.name == "Positions: Canada"
    # Each sentence is quoted once: the U.S. position already quoted above points back to it.
    assert us.value.splitlines() == [
        "• *wants — quoted under Where it stands* [1]",
        "• White House economic adviser Larry Kudlow said on Friday that it's “m-i-l-k” that "
        "continues to block a deal. [2] — Larry Kudlow",
    ]
    assert canada.value == "*No stated position in the articles.*"
    # The timeline is lettered as the picture's dots are, and points back too, with the
    # opening words to know each sentence by.
    assert timeline.description.splitlines() == [
        "**A** · **2018-09-07** · “White House economic adviser Larry Kudlow said on Friday … "
        "*(above)* [2]",
        "**B** · **2018-09-12** · “Canada's protected dairy sector isn't in the current deal … "
        "*(above)* [1]",
    ]
    assert visible(embeds).count("dairy sector isn't in the current deal but the U.S. wants") == 1
    # Titles carry the links: no raw addresses.
    assert sources.description.splitlines() == [
        "**[1]** [Talks stall over dairy](https://example.org/2) — BNN Bloomberg, 2018-09-12 "
        "(also in Riverside Gazette)",
        "**[2]** [Talks stall over dairy](https://example.org/1) — Capital Wire, 2018-09-11",
    ]
    assert sources.footer.text.startswith("Quoted word for word")


def test_an_issue_no_article_mentions_says_only_that() -> None:
    [embed] = bf.briefing_embeds(briefing())
    accepted_by_discord(embeds=[embed])
    assert embed.description.endswith("\n\nNo article mentions this issue yet.")
    assert not embed.fields and "Where it stands" not in embed.description


def test_a_very_long_sentence_is_cut_between_words_and_stays_verbatim() -> None:
    embeds = bf.briefing_embeds(
        briefing(
            standing=[sentence(LONG_SENTENCE)],
            positions=[
                Position("us", "U.S.", sentence(LONG_SENTENCE), "Robert Lighthizer", "wants")
            ],
            timeline=[TimelineEntry("2018-08-20", "Monday", sentence(LONG_SENTENCE))],
        )
    )
    accepted_by_discord(embeds=embeds)
    # Quoted once, where it stands; the position and the timeline point back to it.
    line = embeds[0].description.split("> ", 1)[1]
    cut, marker = line.rsplit(" …", 1)
    assert marker.startswith(" [1]"), line[-60:]
    assert LONG_SENTENCE.startswith(cut) and LONG_SENTENCE[len(cut)] == " "
    assert embeds[0].fields[0].value == (
        "• *wants — quoted under Where it stands* [1] — Robert Lighthizer"
    )
    assert embeds[1].description == (
        "**A** · **2018-08-20** · “The U.S. wants concessions on dairy and on many other … "
        "*(above)* [1]"
    )


def test_a_long_sentence_quoted_once_in_the_timeline_stays_a_one_liner() -> None:
    embeds = bf.briefing_embeds(
        briefing(timeline=[TimelineEntry("2018-08-20", "Monday", sentence(LONG_SENTENCE))])
    )
    accepted_by_discord(embeds=embeds)
    line = embeds[1].description.split(" · ", 2)[2]
    cut, marker = line.rsplit(" …", 1)
    assert marker == " [1]"
    assert LONG_SENTENCE.startswith(cut) and LONG_SENTENCE[len(cut)] == " "
    assert len(embeds[1].description) <= bf.TIMELINE_SENTENCE_MAX + 40  # still a one-liner


def test_many_timeline_entries_keep_the_newest_and_count_the_others() -> None:
    entries = [
        TimelineEntry(
            f"2018-{1 + n // 28:02}-{1 + n % 28:02}",
            "published",
            sentence(f"Development number {n} on dairy. " * 8, n),
        )
        for n in range(200)
    ]
    embeds = bf.briefing_embeds(briefing(timeline=entries, standing=[entries[0].sentence]))
    accepted_by_discord(embeds=embeds)
    lines = embeds[1].description.splitlines()
    hidden = int(re.match(r"\*…(\d+) earlier developments not shown\*", lines[0]).group(1))
    assert hidden + len(lines) - 1 == 200
    assert "Development number 199 on dairy." in lines[-1]
    assert "…and" in embeds[2].description  # sources: as many as fit, then a count


@pytest.mark.parametrize("case", ["long", "many", "hostile", "parties"])
def test_hostile_briefing_stays_within_every_limit(case: str) -> None:
    text = {
        "long": LONG_SENTENCE,
        "many": "The U.S. wants dairy access. " * 30,
        "hostile": (HOSTILE + " ") * 60,
        "parties": "Canada wants to keep it.",
    }[case]
    count = 60 if case in ("many", "hostile") else 3
    parties = (
        [(f"p{n}", f"Party {n} " + "x" * 300) for n in range(40)]
        if case == "parties"
        else [("us", "U.S."), ("canada", HOSTILE), ("mexico", "Mexico")]
    )
    cited = [sentence(text, n, title=HOSTILE * 5, source=HOSTILE * 30) for n in range(count)]
    the_issue = issue(title=HOSTILE * 10)
    b = briefing(
        standing=cited[:2],
        positions=[
            Position(party, name, s, HOSTILE, "wants") for party, name in parties for s in cited[:6]
        ],
        timeline=[TimelineEntry("2018-09-07", "Friday", s) for s in cited],
        parties=parties,
        the_issue=the_issue,
    )
    embeds = bf.briefing_embeds(b)
    accepted_by_discord(embeds=embeds)
    shown = visible(embeds)
    assert "@everyone" not in shown and "@here" not in shown and "```" not in shown
    assert "<@123456789012345678>" not in shown
    assert "**bold**" not in shown  # article Markdown shows as written, not as formatting
    assert embeds[-1].description.startswith("**[1]** ")


def test_unknown_topic_suggests_issues_and_escapes_what_was_typed() -> None:
    text = bf.unknown_issue_text("dairu", [issue()])
    assert text == "No such issue 'dairu'. Did you mean **Dairy and supply management** (`dairy`)?"
    hostile = bf.unknown_issue_text(HOSTILE * 100, [])
    accepted_by_discord(content=hostile)
    assert hostile.startswith("No such issue '") and "/issues list shows every issue" in hostile
    assert "@everyone" not in hostile


def test_autocomplete_choices_fit_and_name_the_alias_typed() -> None:
    many = [issue(n, title=f"Issue {n} " + "y" * 300, aliases=(f"alias{n}",)) for n in range(40)]
    choices = bf.issue_choices(many, "")
    assert len(choices) == 25 and all(len(c.name) <= 100 for c in choices)
    [milk] = bf.issue_choices([issue()], "mil")
    assert (milk.name, milk.value) == ("Dairy and supply management (milk)", "dairy")
    [dairy] = bf.issue_choices([issue()], "dai")
    assert dairy.name == "Dairy and supply management"


# -- /issues, /whatsnew, /ingest ----------------------------------------------------------------


def test_issue_list_shows_counts_and_latest_sentence() -> None:
    statuses = [
        IssueStatus(issue(), 2, DAIRY, 0),
        IssueStatus(issue(2, title="Steel and aluminum tariffs", aliases=("steel",)), 0, None),
    ]
    embed = bf.statuses_embed(statuses)
    accepted_by_discord(embeds=[embed])
    assert embed.title == "Negotiation issues (2)"
    assert embed.description.splitlines() == [
        "**Dairy and supply management** (`dairy`) · 2 articles",
        "2018-09-12: Canada's protected dairy sector isn't in the current deal but the U.S. "
        "wants concessions.",
        "**Steel and aluminum tariffs** (`dairy-2`) · 0 articles",
        "not mentioned in any article",
    ]


def test_a_huge_issue_list_fits() -> None:
    statuses = [
        IssueStatus(issue(n, title=HOSTILE * 5, aliases=(f"a{n}",)), n, sentence(HOSTILE * 20), 0)
        for n in range(300)
    ]
    embed = bf.statuses_embed(statuses)
    accepted_by_discord(embeds=[embed])
    assert embed.description.endswith("more") and "@everyone" not in embed.description


def test_whatsnew_names_each_issue_and_quotes_the_sentence_most_about_it_whole() -> None:
    empty = bf.whatsnew_embed([])
    assert empty.description == "Nothing new since your last check: no issue gained developments."
    shown = bf.whatsnew_embed([IssueUpdate(issue(), (KUDLOW, DAIRY))], {"dairy": KUDLOW})
    accepted_by_discord(embeds=[shown])
    assert shown.title == "New since your last check"
    [field] = shown.fields
    assert field.name == "Dairy and supply management · 2 new sentences"
    assert field.value.splitlines() == [
        "> White House economic adviser Larry Kudlow said on Friday that it's “m-i-l-k” that "
        "continues to block a deal.",
        "— [Talks stall over dairy](https://example.org/1), Capital Wire, 2018-09-11",
    ]
    newest = bf.whatsnew_embed([IssueUpdate(issue(), (KUDLOW, DAIRY))])  # nothing chosen
    assert "Canada's protected dairy sector" in newest.fields[0].value


def test_whatsnew_quotes_several_issues_whole_within_the_limits() -> None:
    long_enough = "The U.S. negotiators said the quota talks would resume next week in Ottawa. "
    updates = [
        IssueUpdate(
            issue(n, title=f"Issue {n}", aliases=(f"a{n}",)), (sentence(long_enough * 2, n),)
        )
        for n in range(1, 9)
    ]
    shown = bf.whatsnew_embed(updates)
    accepted_by_discord(embeds=[shown])
    assert len(shown.fields) == 8
    for field in shown.fields:  # eight issues: each sentence still quoted whole, not a fragment
        assert " …" not in field.value and field.value.startswith("> " + long_enough.strip())


@pytest.mark.parametrize("count", [1, 8, 30, 400])
def test_hostile_whatsnew_fits_in_a_message(count: int) -> None:
    updates = [
        IssueUpdate(
            issue(n, title=HOSTILE * 5, aliases=(f"a{n}",)),
            tuple(sentence(HOSTILE * 30, k, source=HOSTILE) for k in range(5)),
        )
        for n in range(count)
    ]
    shown = bf.whatsnew_embed(updates)
    accepted_by_discord(embeds=[shown])
    text = visible([shown])
    assert "@everyone" not in text and "```" not in text


def test_ingest_reply_lists_issues_with_new_developments_within_the_limit() -> None:
    line = bf.developments_line([IssueUpdate(issue(), (KUDLOW, DAIRY))])
    assert line == (
        "New developments on: Dairy and supply management (2 new sentences). "
        "See /whatsnew or /issue."
    )
    assert bf.developments_line([]) == "No issue gained new developments."
    many = [
        IssueUpdate(issue(n, title=HOSTILE * 5, aliases=(f"a{n}",)), (DAIRY,)) for n in range(100)
    ]
    text = bf.with_developments("Added “x”. " * 300, many)
    accepted_by_discord(content=text)
    assert text.splitlines()[-1].startswith("New developments on: ")
    failed = bf.with_developments("Reindex finished.", None)
    assert failed == "Reindex finished.\n" + bf.DEVELOPMENTS_FAILED


def test_shares_gives_short_parts_all_they_want() -> None:
    assert shares([10, 1000, 1000], 500) == [10, 245, 245]
    assert shares([10, 20], 500) == [10, 20]
    assert shares([50, 50], -5) == [0, 0]


def test_a_budget_miss_is_cut_to_the_limit_not_asserted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the budgets ever wrong (here: every section given twice its share), the briefing
    is still cut to Discord's total, with or without ``python -O``, rather than failing."""
    monkeypatch.setattr(bf, "shares", lambda wanted, room: [2 * n for n in shares(wanted, room)])
    entries = [
        TimelineEntry("2018-09-07", "Friday", sentence(f"Development {n} on dairy. " * 10, n))
        for n in range(60)
    ]
    embeds = bf.briefing_embeds(briefing(timeline=entries, standing=[e.sentence for e in entries]))
    accepted_by_discord(embeds=embeds)
    assert sum(bf.embed_size(e) for e in embeds) <= limits.EMBED_TOTAL_MAX
