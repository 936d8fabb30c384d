"""A bot members enjoy (issue 18), on the real bot over the loopback Discord with the real model:
follow-ups that answer the new question, answers and briefings that say each thing once with
linked sources, each member's own /whatsnew, outlets shown plainly, Discord's time and mention
markup, a timeline picture readable where Discord shows it, private errors and a typing
indicator, one listing per command, paged /sources, and the buttons under an answer."""

from __future__ import annotations

import asyncio
import io
import logging
import random
import re
import string
from pathlib import Path

import pytest
from aiohttp import web
from fake_discord import ActionKind, BotAction, FakeDiscord, Upload, limits
from PIL import Image

from .bot_harness import (
    BUNDLED_QUESTION,
    FIXTURE_ARTICLES,
    UNANSWERABLE,
    assert_no_pings,
    citation_fields,
    library_of,
    markdown_article,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.timeout(120)]

SLOW = 20.0
GRAIN = FIXTURE_ARTICLES.parent / "follow_ups" / "2018-09-20-harbour-herald-grain-walkout.md"
WIRE_DAIRY = (
    FIXTURE_ARTICLES.parent / "briefings" / "2018-08-21-continental-press-dairy-deadline.md"
)
# The bundled article's sentences a follow-up must (not) bring.
FREELAND_QUOTE = "We had a very productive, constructive conversation"
WALKOUT = "walked out of the grain talks with the United States on Wednesday"
REASON = "Whitlock left because the American side refused to discuss the wheat quota"


def unescape(text: str) -> str:
    """Discord's view of escaped text: backslash escapes and zero-width spaces are invisible."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


async def evidence_for(tradetalk, question: str, must_name: str) -> str:
    """The opening words of the sentence the articles lead with when `question` is asked
    fresh: the evidence a follow-up asking the same thing must bring (whatever the answer
    path ranks first today, as long as it is about `must_name`)."""
    fresh = await asyncio.to_thread(tradetalk.engine.ask, question)
    assert not fresh.abstained and must_name in fresh.sentences[0].text, fresh.text
    lead = " ".join(fresh.sentences[0].text.split())
    return lead[:60].rsplit(" ", 1)[0]  # whole words, before any date the reply adds


def buttons(message: BotAction) -> list[dict]:
    return [b for row in message.components for b in row.get("components") or []]


def button_ids(message: BotAction) -> list[str]:
    return [b["custom_id"] for b in buttons(message) if b.get("custom_id")]


async def ingest_file(fake: FakeDiscord, path: Path, channel: int | None = None) -> BotAction:
    upload = Upload(path.name, path.read_bytes(), "text/markdown")
    handle = await fake.send_interaction(
        "ingest", user=fake.admin_id, channel_id=channel, attachments={"file": upload}
    )
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert reply.content.startswith("Added"), reply.content
    return reply


# -- 1. follow-ups --------------------------------------------------------------------------------


async def test_a_reply_follow_up_holds_the_new_questions_evidence(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    # Asked fresh, the articles lead with a sentence about Trump: the evidence a follow-up needs.
    trump = await evidence_for(tradetalk, "What did Trump say?", "Trump")

    await fake.send_message("Who did Freeland meet in Washington?", mentions_bot=True)
    first = await fake.wait_for_message()
    assert FREELAND_QUOTE in unescape(first.embeds[0]["description"])
    await fake.send_message(
        "and what did Trump say?", reference_message_id=first.message_id, reply_ping=False
    )
    second = await fake.wait_for_message()
    said = unescape(second.embeds[0]["description"])
    assert trump in said  # the new question's evidence...
    assert FREELAND_QUOTE not in said  # ...not the earlier answer again
    assert_no_pings(second)


async def test_why_in_a_thread_brings_the_reason_not_the_answer_again(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await asyncio.to_thread(tradetalk.engine.ingest_bytes, GRAIN.read_bytes(), GRAIN.name)
    thread = await fake.create_thread(fake.channel_id, "grain talks")
    await fake.send_message(
        "Who walked out of the grain talks?", mentions_bot=True, channel_id=thread
    )
    first = await fake.wait_for_message(channel_id=thread)
    assert WALKOUT in unescape(first.embeds[0]["description"])

    await fake.send_message("why?", mentions_bot=True, channel_id=thread)
    why = await fake.wait_for_message(channel_id=thread)
    said = unescape(why.embeds[0]["description"])
    assert REASON in said and WALKOUT not in said


async def test_why_with_no_reason_in_the_articles_says_so_instead_of_repeating(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    thread = await fake.create_thread(fake.channel_id, "Freeland in Washington")
    await fake.send_message(
        "Who did Freeland meet in Washington?", mentions_bot=True, channel_id=thread
    )
    met = await fake.wait_for_message(channel_id=thread)
    assert FREELAND_QUOTE in unescape(met.embeds[0]["description"])
    await fake.send_message("why?", mentions_bot=True, channel_id=thread)
    nothing_more = await fake.wait_for_message(channel_id=thread)
    # The bundled article gives no reason beyond what was just shown: it says so, instead of
    # returning the previous answer word for word.
    assert not nothing_more.embeds
    assert nothing_more.content.startswith("My articles say nothing more on that")
    assert FREELAND_QUOTE not in unescape(nothing_more.content)


# -- 2. /whatsnew per member ----------------------------------------------------------------------


async def test_whatsnew_is_each_members_own_and_quotes_whole_sentences_about_each_issue(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await ingest_file(fake, WIRE_DAIRY)
    other = fake.state.add_user("second-member")

    replies = {}
    for member in (fake.member_id, other):
        handle = await fake.send_interaction("whatsnew", user=member)
        replies[member] = (handle, await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW))
    # The second member still gets the news the first one's check saw.
    second = replies[other][1].text
    assert not re.search(r"(?i)no issue has new|nothing new", second), second
    seen = {}
    for member, (handle, news) in replies.items():
        assert news.ephemeral  # "since your last check" is the member's own
        assert all(a.ephemeral for a in handle.actions if a.kind == ActionKind.DEFER)
        limits.check_message({"embeds": news.embeds})
        [embed] = news.embeds
        assert embed["title"] == "New since your last check"
        seen[member] = {f["name"]: unescape(f["value"]) for f in embed["fields"]}
    # One member's check used up nothing for the other.
    assert seen[fake.member_id] == seen[other] and len(seen[other]) == 2
    by_issue = {name.split(" · ")[0]: value for name, value in seen[other].items()}
    dairy = by_issue["Dairy and supply management"]
    autos = by_issue["Auto tariffs (Section 232)"]
    # Each issue quotes a whole sentence about that issue, its article linked.
    for value, words in ((dairy, ("dairy", "supply management")), (autos, ("auto", "car"))):
        quote, source = value.split("\n")
        assert quote.startswith("> ") and not quote.endswith("…")
        assert any(w in quote.lower() for w in words), quote
        assert source.startswith("— [U.S. sets end-of-month target for Canadian dairy opening](")

    again = await fake.send_interaction("whatsnew", user=other)
    nothing = await again.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    assert nothing.embeds[0]["description"].startswith("Nothing new since your last check")


# -- 3. outlets shown plainly -----------------------------------------------------------------------

PAGES = {
    "/quota": (
        "Cheese quota to double",
        "The agriculture ministry said on Thursday that the cheese quota offered to European "
        "exporters would rise to 18,500 tonnes a year, double the amount agreed in the spring. "
        "Farm groups warned that the larger quota would cut prices for local producers.",
    ),
    "/copy": (
        "Ports brace for holiday imports",
        "Port operators in Halifax said they had hired extra crews for the autumn, expecting "
        "container traffic to climb by a tenth before the holidays. Truckers asked the city to "
        "open a second gate at the terminal to shorten the queues on the harbour road.",
    ),
}
PAGE = """<html><head><title>{title}</title>
<meta property="og:site_name" content="Harbour Times">
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2018-09-20">
</head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"""


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch):
    """Names under .test resolve to this machine (a hosts file for the fetcher's resolver, as
    a real site's DNS would); the address checks still run on the address."""
    from aiohttp.resolver import ThreadedResolver

    import corpus.fetch

    class TestHosts(ThreadedResolver):
        async def resolve(self, host, port=0, family=0):
            if host.endswith(".test"):
                host = "127.0.0.1"
            return await super().resolve(host, port, family)

    monkeypatch.setattr(corpus.fetch, "ThreadedResolver", TestHosts)


async def test_a_page_on_its_outlets_own_site_is_cited_under_the_outlets_name(
    fake_discord: FakeDiscord, start_bot, hosts
) -> None:
    fake = fake_discord

    async def page(request: web.Request) -> web.Response:
        title, text = PAGES[request.path]
        return web.Response(text=PAGE.format(title=title, text=text), content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/quota", page), web.get("/copy", page)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with start_bot(allow_private_urls=True):
            for url in (
                f"http://www.harbourtimes.test:{port}/quota",
                f"http://mirror.test:{port}/copy",
            ):
                handle = await fake.send_interaction("ingest", {"url": url}, user=fake.admin_id)
                added = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
                assert added.content.startswith("Added"), added.content
            handle = await fake.send_interaction("sources")
            listed = unescape((await handle.wait_for(ActionKind.FOLLOWUP)).embeds[0]["description"])
    finally:
        await runner.cleanup()
    assert "— Harbour Times, 2018-09-20" in listed  # its own site: the outlet, plainly
    assert "— mirror.test, as Harbour Times, 2018-09-20" in listed  # another site: said so
    assert "claims" not in listed


# -- 4. answers and briefings say each thing once, with linked sources ---------------------------


async def test_an_answer_quotes_once_and_links_its_source(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    reply = await fake.wait_for_message()
    shown = unescape(reply.text)
    assert shown.count("m-i-l-k") == 1  # the sentence is not quoted again under its source
    assert "<https://" not in shown  # no raw ~100-character address
    [field] = citation_fields(reply)
    assert field["name"] == "[1] BNN Bloomberg (Bloomberg News), 2018-09-11"
    url = "https://www.bnnbloomberg.ca/trump-says-nafta-deal-with-canada-coming-along-very-well-1.1136139"
    assert field["value"].startswith(
        f"[Trump says NAFTA deal with Canada coming along 'very well']({url})"
    )
    links = [b for b in buttons(reply) if b.get("style") == 5]
    assert [(b["label"], b["url"]) for b in links] == [("[1] BNN Bloomberg (Bloomberg News)", url)]


async def test_a_briefing_quotes_each_sentence_once_with_linked_sources(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    handle = await fake.send_interaction("issue", {"topic": "dairy"})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    shown = unescape(reply.text)
    for sentence in (
        "it’s “ m-i-l-k” that continues to block a deal",
        "where the U.S. wants concessions",
    ):
        assert shown.count(sentence) == 1, sentence
    assert "quoted under Where it stands*" in shown  # later sections point back instead
    sources = unescape(reply.embeds[-1]["description"])
    assert sources.startswith(
        "**[1]** [Trump says NAFTA deal with Canada coming along 'very well'](https://"
    )
    assert "<https://" not in shown


# -- 5. times and people ------------------------------------------------------------------------


async def test_times_and_people_use_discords_markup(fake_discord: FakeDiscord, start_bot) -> None:
    fake = fake_discord
    async with start_bot(cooldown_rate=1, cooldown_seconds=60):
        await ingest_file(fake, WIRE_DAIRY)
        handle = await fake.send_interaction("audit", user=fake.admin_id)
        audit = (await handle.wait_for(ActionKind.FOLLOWUP)).embeds[0]
        line = audit["description"].splitlines()[0]
        assert re.match(r"<t:\d{10}:R> ingest · ", line), line  # each reader's own time zone
        assert f"by <@{fake.admin_id}>" in line  # a mention, not a raw id
        assert "UTC" not in audit["footer"]["text"]

        first = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        await first.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
        again = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
        notice = await again.reply()
        wait = re.search(r"please try again <t:(\d{10}):R>\.$", notice.content)
        assert wait is not None, notice.content
        assert 0 < int(wait[1]) - notice.timestamp <= 61
    for action in fake.messages_seen():
        assert_no_pings(action)  # the mention shows a name and pings nobody


# -- 6. the timeline picture ----------------------------------------------------------------------


async def test_the_timeline_picture_reads_at_discords_size_and_matches_the_text(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await ingest_file(fake, WIRE_DAIRY)
    handle = await fake.send_interaction("issue", {"topic": "dairy"})
    reply = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    [attachment] = reply.attachments
    data = fake.state.uploads[int(attachment["id"])].data
    image = Image.open(io.BytesIO(data)).convert("RGB")
    # Twice the ~440 px Discord shows, so text drawn for 440 px stays sharp.
    assert image.size[0] == 880 and image.size[1] <= 880
    corner = image.getpixel((5, 5))
    assert sum(corner) / 3 < 80  # a dark card: no white box in Discord's dark theme
    timeline = unescape(next(e for e in reply.embeds if e["title"] == "Timeline")["description"])
    letters = re.findall(r"^\*\*([A-Z])\*\* · \*\*(\d{4}-\d\d-\d\d)\*\*", timeline, re.M)
    assert [letter for letter, _ in letters] == list(string.ascii_uppercase[: len(letters)])
    assert len(letters) >= 3
    # The picture's words (its alt text): the count it states is what it draws, and its
    # lettered dots are the text's lettered lines (letters: never confused with sources [1]).
    described = attachment["description"]
    count = int(re.search(r"(\d+) dated developments drawn \(one dot each\)", described)[1])
    assert count >= len(letters)
    for letter, date in letters:
        assert f"{letter} {date} (" in described


# -- 7. errors and waits ----------------------------------------------------------------------------


async def test_a_failing_mention_is_told_privately(
    fake_discord: FakeDiscord, tradetalk, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    for segment in tradetalk.engine.index.segments:  # its passage stores become unreadable
        segment.records.close()
    with caplog.at_level(logging.ERROR, logger="bot.replies"):
        await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
        dm = await fake.wait_for_message(channel_id=fake.dm_channel(fake.member_id))
    assert re.fullmatch(
        rf"About your question in <#{fake.channel_id}>: Something went wrong \(error [0-9a-f]{{8}}\)\.",
        dm.content,
    )
    assert not fake.actions.matching(
        lambda a: a.kind == ActionKind.MESSAGE and a.channel_id == fake.channel_id
    )
    # A member whose settings refuse the bot's DMs is told in the channel instead.
    fake.refuse_dms(fake.admin_id)
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True, author=fake.admin_id)
    public = await fake.wait_for_message(channel_id=fake.channel_id)
    assert public.content.startswith("Something went wrong (error ")
    assert (await fake.wait_for_rejection(limits.CANNOT_SEND_TO_USER)).status == 403


async def test_a_mention_shows_typing_while_it_is_answered(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    reply = await fake.wait_for_message()
    typing = fake.actions.matching(
        lambda a: a.kind == ActionKind.TYPING and a.channel_id == fake.channel_id
    )
    assert typing and typing[0].timestamp <= reply.timestamp


async def test_ask_stops_at_the_longest_question_it_takes(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    command = fake.state.commands.find("ask", fake.guild_id)
    [question] = command["options"]
    assert question["max_length"] == tradetalk.settings.max_question_chars == 1000
    # Discord's client stops the member at 1,000 characters: nothing is sent to be refused.
    with pytest.raises(ValueError, match="takes at most 1000"):
        await fake.send_interaction("ask", {"question": "Why " + "dairy " * 300 + "?"})
    ok = await fake.send_interaction("ask", {"question": BUNDLED_QUESTION})
    assert "m-i-l-k" in (await ok.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)).text


async def test_an_unknown_topic_is_told_privately_with_no_public_thinking(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    handle = await fake.send_interaction("issue", {"topic": "dairu"})
    reply = await handle.reply(timeout=SLOW)
    assert reply.kind == ActionKind.RESPONSE and reply.ephemeral
    assert "Did you mean" in unescape(reply.content) and "Dairy" in reply.content
    assert not handle.actions or all(a.kind != ActionKind.DEFER for a in handle.actions)


# -- 8. one listing per command ---------------------------------------------------------------------


async def test_commands_are_listed_once_when_switching_between_global_and_server(
    fake_discord: FakeDiscord, start_bot
) -> None:
    fake = fake_discord
    elsewhere = fake.add_guild("Another Server", prefix="x-")
    async with start_bot(guild_ids=[]):  # global
        pass
    names = fake.command_listing()
    assert "ask" in names and len(names) == len(set(names))

    async with start_bot(guild_ids=[fake.guild_id]):  # TRADETALK_GUILD_IDS set
        pass
    names = fake.command_listing()
    assert "ask" in names and len(names) == len(set(names))  # not twice
    assert fake.command_listing(elsewhere.id) == []  # other servers get none: the README says so

    async with start_bot(guild_ids=[]):  # and back to global
        pass
    names = fake.command_listing()
    assert "ask" in names and len(names) == len(set(names))
    assert fake.command_listing(elsewhere.id) == names


async def test_a_good_start_says_where_things_are_and_how_to_invite_the_bot(
    fake_discord: FakeDiscord, start_bot, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    with caplog.at_level(logging.INFO, logger="tradetalk.status"):
        async with start_bot() as bot:
            pass
    said = [r.getMessage() for r in caplog.records if r.name == "tradetalk.status"]
    data = bot.settings.data_dir.resolve()
    assert (
        said[0].startswith("TradeTalk is up: connected as TradeTalk") and "1 server(s)" in said[0]
    )
    assert f"Data: {data} (log: {data / 'logs' / 'tradetalk.log'})" in said
    assert (
        f"Slash commands: registered in server(s) {fake.guild_id} only (TRADETALK_GUILD_IDS)"
        in said[2]
    )
    invite = (
        f"Invite it to a server: https://discord.com/oauth2/authorize?client_id={fake.application_id}"
        "&scope=bot+applications.commands&permissions=309237763072"
    )
    assert invite in said
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "permissions=309237763072" in readme and "Add Reactions" not in readme


# -- 9. lists that grow -------------------------------------------------------------------------


VOCABULARY = (
    "wheat barley canola oats rye flax lentils peas corn soy rail freight rates farmers board "
    "province harvest storage elevators trucks ports winter spring summer autumn prices tariffs "
    "exports imports buyers sellers markets futures contracts shipping delays weather drought "
    "rain frost yields acres fields machinery fuel fertilizer loans banks credit insurance "
    "claims subsidies quotas inspections grades moisture protein mills bakers brewers feed "
    "cattle hogs poultry dairy producers unions workers wages hours safety audits reports "
    "committee minister deputy council mayor towns villages roads bridges tracks cars "
    "locomotives crews schedules terminals berths vessels containers bulk carriers routes"
).split()


async def test_sources_pages_through_every_article(fake_discord: FakeDiscord, tradetalk) -> None:
    fake = fake_discord
    engine = library_of(tradetalk, fake.guild_id).engine
    # Forty different articles (near-copies of one story would be listed once).
    picks = [random.Random(n).sample(VOCABULARY, 66) for n in range(40)]
    titles = [f"Report {n}: " + " ".join(words[:6]).capitalize() for n, words in enumerate(picks)]
    for n, (title, words) in enumerate(zip(titles, picks, strict=True)):
        body = ". ".join(" ".join(words[i : i + 12]).capitalize() for i in range(6, 66, 12)) + "."
        data = markdown_article(title, "Prairie Wire", body, url=f"https://example.org/grain/{n}")
        await asyncio.to_thread(engine.ingest_bytes, data, f"grain-{n}.md")
    handle = await fake.send_interaction("sources")
    page = await handle.wait_for(ActionKind.FOLLOWUP, timeout=SLOW)
    listed: list[str] = []
    pages = 0
    while True:
        pages += 1
        [embed] = page.embeds
        assert "more" not in embed["description"].splitlines()[-1]
        listed += embed["description"].splitlines()
        assert embed["footer"]["text"].startswith(f"Page {pages} of ")
        nxt = next(b for b in buttons(page) if b["custom_id"].endswith(":next"))
        if nxt.get("disabled"):
            break
        click = await fake.send_component(page.message_id, nxt["custom_id"])
        page = await click.wait_for(ActionKind.UPDATE)
    assert pages >= 3
    for title in titles:  # every article is reachable: none hidden behind "…and N more"
        assert sum(f"[{title}](" in unescape(line) for line in listed) == 1


async def test_reindex_on_a_new_server_says_what_it_reindexed(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    handle = await fake.send_interaction("reindex", user=fake.admin_id)
    reply = await handle.reply(timeout=SLOW)
    assert reply.ephemeral
    assert "no articles of its own" in reply.content
    assert "1 shared article of the global library" in reply.content
    assert "0 passages from 0 articles" not in reply.content


# -- beyond: the buttons under an answer, and a suggestion when not covered ----------------------


async def test_show_passages_is_private_and_holds_the_quoted_paragraph(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await fake.send_message(BUNDLED_QUESTION, mentions_bot=True)
    answer = await fake.wait_for_message()
    assert button_ids(answer)[:2] == ["tradetalk:passages", "tradetalk:followup"]
    click = await fake.send_component(answer.message_id, "tradetalk:passages")
    shown = await click.reply()
    assert shown.ephemeral
    limits.check_message({"embeds": shown.embeds, "components": shown.components})
    text = unescape(shown.embeds[0]["description"])
    assert "> White House economic adviser Larry Kudlow said on Friday" in text
    assert "isn’t at the negotiating table" in text  # the whole paragraph, not a fragment
    assert [b["style"] for b in buttons(shown)] == [5]  # a link to the article


async def test_ask_a_follow_up_opens_a_thread_that_answers_every_message(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    trump = await evidence_for(tradetalk, "What did Trump say?", "Trump")
    await fake.send_message("Who did Freeland meet in Washington?", mentions_bot=True)
    answer = await fake.wait_for_message()
    click = await fake.send_component(answer.message_id, "tradetalk:followup")
    started = await fake.wait_for_action(kind=ActionKind.THREAD)
    thread = started.channel_id
    assert thread == answer.message_id  # a thread on the answer itself
    assert started.content == "Who did Freeland meet in Washington?"
    told = await click.reply()
    assert told.ephemeral and f"<#{thread}>" in told.content
    intro = await fake.wait_for_message(channel_id=thread)
    assert intro.content.startswith("Ask your follow-up here")

    # In the thread, a question needs no mention, and is read after the answer it hangs on.
    await fake.send_message("and what did Trump say?", channel_id=thread)
    reply = await fake.wait_for_message(channel_id=thread)
    said = unescape(reply.embeds[0]["description"])
    assert trump in said and FREELAND_QUOTE not in said
    assert "tradetalk:followup" not in button_ids(reply)  # already in a thread

    again = await fake.send_component(answer.message_id, "tradetalk:followup")
    assert f"<#{thread}>" in (await again.reply()).content  # the same thread, not a second one
    assert len(fake.actions.matching(lambda a: a.kind == ActionKind.THREAD)) == 1


async def test_not_covered_suggests_a_question_the_articles_answer(
    fake_discord: FakeDiscord, tradetalk
) -> None:
    fake = fake_discord
    await fake.send_message(UNANSWERABLE, mentions_bot=True)
    reply = await fake.wait_for_message()
    assert reply.content.startswith("My articles don't cover that.")
    suggestion = re.search(r"\nTry asking: “(.+)”$", unescape(reply.content))
    assert suggestion is not None, reply.content
    await fake.send_message(suggestion[1], mentions_bot=True)
    tried = await fake.wait_for_message()
    assert tried.embeds and "don't cover" not in tried.text  # the suggestion is answered
