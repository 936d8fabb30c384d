"""Issue briefings with the real embedding model: on the bundled article, on the briefing
fixtures (tests/fixtures/briefings: dated articles from several outlets and a republished wire
story), and on the multi-article fixtures (tests/fixtures/articles)."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer
from rapidfuzz import fuzz
from rich.console import Console
from typer.testing import CliRunner

from briefings import IssueBriefings, briefings_for, since_last_check
from briefings.briefing import Briefing, CitedSentence
from briefings.catalogue import PACKAGED_CATALOGUE, CatalogueError
from briefings.commands import issue_command, issues_command
from briefings.render import briefing_json, updates_text
from cli.briefings import register_commands
from config.settings import Settings
from corpus.library import BUNDLED_DIR
from tradetalk.engine import Engine

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
BRIEFING_FIXTURES = ROOT / "tests" / "fixtures" / "briefings"
ARTICLE_FIXTURES = ROOT / "tests" / "fixtures" / "articles"
MERIDIAN = BRIEFING_FIXTURES / "2018-08-14-meridian-herald-panels-standoff.md"
WIRE = BRIEFING_FIXTURES / "2018-08-21-continental-press-dairy-deadline.md"
WIRE_COPY = BRIEFING_FIXTURES / "2018-08-21-riverside-gazette-dairy-deadline.md"
LAKEVIEW = BRIEFING_FIXTURES / "2018-09-04-lakeview-chronicle-culture-exemption.md"
SEED_TEXT = (BUNDLED_DIR / "nafta-talks-2018-09-11.md").read_text(encoding="utf-8")

# Words a sentence about each issue contains, chosen by the tests (not the catalogue).
ISSUE_WORDS = {
    "dairy": ["dairy", "m-i-l-k", "milk"],
    "chapter-19": ["Chapter 19", "panels"],
    "culture": ["cultural"],
    "ip-pharma": ["Intellectual property"],
    "autos": ["auto", "cars"],
    "fast-track": ["fast-track", "trilateral", "without Canada"],
}
FURNITURE = [
    "poll image",
    "Total Results",
    "What should Canada do at the NAFTA negotiating table?",
    "Advertisement",
    "Share this story",
    "Photo:",
    "Click here",
    "With files from",
]


def open_engine(
    data_dir: Path, encoder, *, bundled: bool = True, articles: tuple[Path, ...] = ()
) -> Engine:
    """An engine over `data_dir`, its index built in one go from the bundled corpus (or none)
    and copies of `articles`. These fixtures are NAFTA articles: a library of them without the
    bundled corpus keeps the NAFTA issues as its own (the packaged catalogue only applies by
    itself where the bundled corpus is part of the library)."""
    empty = data_dir / "no-bundled-articles"
    if not bundled:
        empty.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "issues.toml").exists():
            shutil.copy(PACKAGED_CATALOGUE, data_dir / "issues.toml")
    added = data_dir / "articles"
    added.mkdir(parents=True, exist_ok=True)
    for path in articles:
        shutil.copy(path, added / path.name)
    settings = Settings(_env_file=None, data_dir=data_dir, bundled_dir=None if bundled else empty)
    engine = Engine(settings, encoder=encoder)
    engine.open()
    return engine


@pytest.fixture(scope="module")
def seed(tmp_path_factory, real_encoder) -> Engine:
    """The bundled article only."""
    return open_engine(tmp_path_factory.mktemp("seed") / "data", real_encoder)


@pytest.fixture(scope="module")
def wire(tmp_path_factory, real_encoder) -> IssueBriefings:
    """The four briefing fixtures, added one by one newest first (the order articles arrive in
    must not be the order of the timeline)."""
    engine = open_engine(tmp_path_factory.mktemp("wire") / "data", real_encoder, bundled=False)
    for path in (LAKEVIEW, WIRE, MERIDIAN, WIRE_COPY):
        engine.ingest_path(path)
    return briefings_for(engine)


@pytest.fixture(scope="module")
def multi(tmp_path_factory, real_encoder) -> IssueBriefings:
    """The seven multi-article fixtures (two of them a wire story and its republished copy)."""
    engine = open_engine(
        tmp_path_factory.mktemp("multi") / "data",
        real_encoder,
        bundled=False,
        articles=tuple(sorted(ARTICLE_FIXTURES.iterdir())),
    )
    return briefings_for(engine)


def quoted(briefing: Briefing) -> list[CitedSentence]:
    """Every sentence the briefing shows, section by section."""
    return [
        *briefing.standing,
        *(p.sentence for p in briefing.positions),
        *(e.sentence for e in briefing.timeline),
    ]


def texts(sentences) -> list[str]:
    return [s.text for s in sentences]


def position_texts(briefing: Briefing, party: str) -> list[str]:
    return [p.sentence.text for p in briefing.positions_of(party)]


def only(items: list, matching: str):
    found = [item for item in items if matching in (item if isinstance(item, str) else item.text)]
    assert len(found) == 1, (matching, items)
    return found[0]


# -- the bundled article --------------------------------------------------------------------


def test_dairy_briefing_on_the_bundled_article(seed):
    text = issue_command(seed, "milk")
    assert text.startswith("Dairy and supply management [dairy]")
    assert "which isn’t in the current deal but where the U.S. wants concessions" in text
    assert "m-i-l-k" in text

    briefing = briefings_for(seed).briefing("dairy")
    us = only(position_texts(briefing, "us"), "where the U.S. wants concessions")
    assert us.startswith("They include anti-dumping dispute panels")
    # Canada "wants to keep" the Chapter 19 panels, not the dairy system.
    assert position_texts(briefing, "canada") == []
    entries = [e for e in briefing.timeline if "m-i-l-k" in e.sentence.text]
    assert [(e.date, e.dated_by) for e in entries] == [("2018-09-07", "Friday")]
    kudlow = briefing.timeline.index(entries[0])
    concessions = next(
        i for i, e in enumerate(briefing.timeline) if "wants concessions" in e.sentence.text
    )
    assert kudlow < concessions  # Friday's remark comes before Tuesday's article
    assert "2018-09-07  White House economic adviser Larry Kudlow said on Friday" in text


def test_chapter_19_briefing_gives_each_side_its_stance(seed):
    briefing = briefings_for(seed).briefing("ch 19")
    assert briefing.issue.id == "chapter-19"
    for party in ("us", "canada"):
        sentence = only(
            position_texts(briefing, party), "the U.S. wants to remove and Canada wants"
        )
        # Quoted whole, verbatim.
        assert sentence.startswith("They include") and sentence.endswith(
            "the U.S. wants concessions."
        )
    assert position_texts(briefing, "mexico") == []
    text = issue_command(seed, "Chapter 19")
    assert text.count("which the U.S. wants to remove and Canada wants to keep") >= 3


def test_culture_briefing_has_canada_seeking_to_preserve_an_exemption(seed):
    briefing = briefings_for(seed).briefing("culture")
    assert position_texts(briefing, "canada") == [
        "Another point of contention is cultural industries, where Canada is seeking to "
        "preserve an exemption."
    ]
    assert position_texts(briefing, "us") == []
    assert texts(briefing.standing) == position_texts(briefing, "canada")


def test_autos_briefing_names_who_threatened(seed):
    briefing = briefings_for(seed).briefing("autos")
    (position,) = briefing.positions_of("us")
    assert "apply auto tariffs" in position.sentence.text
    assert position.speaker == "Donald Trump"
    assert "— Donald Trump" in issue_command(seed, "cars")


def test_every_sentence_is_verbatim_cited_and_about_its_issue(seed):
    briefings = briefings_for(seed)
    for issue_id, words in ISSUE_WORDS.items():
        briefing = briefings.briefing(issue_id)
        assert briefing.mentioned, issue_id
        for sentence in quoted(briefing):
            assert sentence.text in SEED_TEXT  # verbatim
            assert any(w.lower() in sentence.text.lower() for w in words), (issue_id, sentence.text)
            assert not any(f.lower() in sentence.text.lower() for f in FURNITURE)
            assert sentence.passage_id.startswith(sentence.article_id + "#p")
            assert sentence.url and sentence.url.startswith("https://www.bnnbloomberg.ca/")
            assert sentence.date == "2018-09-11"
        text = issue_command(seed, issue_id)
        for sentence in quoted(briefing):
            assert f"{sentence.text} [1]" in text
        assert "[1] “Trump says NAFTA deal with Canada coming along 'very well'”" in text


def test_an_issue_no_article_mentions_says_so(seed):
    text = issue_command(seed, "steel")
    assert "No article mentions this issue yet." in text
    assert "Positions" not in text and "Timeline" not in text and "[1]" not in text
    data = json.loads(issue_command(seed, "steel", as_json=True))
    assert data["mentioned"] is False
    assert data["where_it_stands"] == [] and data["timeline"] == []
    assert all(p["sentences"] == [] for p in data["positions"])


def test_issue_json_carries_citations_and_positions(seed):
    data = json.loads(issue_command(seed, "Ch-19", as_json=True))
    assert data["issue"]["id"] == "chapter-19"
    assert data["mentioned"] is True and data["article_count"] == 1
    by_party = {p["party"]: p for p in data["positions"]}
    assert by_party["us"]["name"] == "U.S." and len(by_party["us"]["sentences"]) == 1
    cited = by_party["canada"]["sentences"][0]
    assert cited["url"].startswith("https://www.bnnbloomberg.ca/") and cited["passage_id"]
    assert data["timeline"][0]["date"] == "2018-09-11"
    assert data["timeline"][0]["dated_by"] == "published"


def test_issue_list_shows_status_and_article_counts(seed):
    lines = issues_command(seed).splitlines()
    catalogue = briefings_for(seed).catalogue()
    assert [line.split()[0] for line in lines] == [issue.id for issue in catalogue]
    dairy = only(lines, "Dairy and supply management")
    assert "1 article " in dairy
    # Where it stands is the status sentence ("continues to block a deal"), not the list of
    # sticking points that explains the background.
    assert "2018-09-11: … Friday in an interview that it’s “ m-i-l-k” that continues" in dairy
    steel = only(lines, "Steel and aluminum tariffs")
    assert "0 articles" in steel and "not mentioned in any article" in steel


def test_cli_commands_report_unknown_topics_clearly(seed):
    from cli.main import failures

    app = typer.Typer()
    out = Console(highlight=False, soft_wrap=True)
    register_commands(app, engine=lambda: seed, failures=failures, out=out)
    runner = CliRunner()
    result = runner.invoke(app, ["issue", "diary"])
    assert result.exit_code == 1
    assert "no article discusses 'diary'; did you mean dairy?" in result.output
    result = runner.invoke(app, ["issue", "culture", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["issue"]["id"] == "culture"
    result = runner.invoke(app, ["issues"])
    assert result.exit_code == 0 and "fast-track" in result.stdout


def test_briefing_is_served_from_cache_until_the_index_changes(seed):
    briefings = briefings_for(seed)
    first = briefings.briefing("dairy")
    assert briefings.briefing("milk") is first  # an alias hits the same cached briefing
    assert first.index_version == seed.index.version


# -- positions, ordering and copies across articles -----------------------------------------


def test_chapter_19_positions_across_articles(wire):
    briefing = wire.briefing("chapter-19")
    (canada,) = briefing.positions_of("canada")
    assert canada.sentence.text.startswith("OTTAWA — Canada will not accept")
    assert canada.speaker == "Chrystia Freeland"
    assert position_texts(briefing, "us") == [
        "Washington is demanding that the Chapter 19 panels be scrapped, arguing that they let "
        "foreign arbitrators overrule American trade agencies."
    ]
    assert position_texts(briefing, "mexico") == []  # "Mexico has said little …"
    # "Besides the dispute panels, … on dairy, where the U.S. wants …" is about dairy.
    assert not any(s.text.startswith("Besides") for s in quoted(briefing))
    assert [(e.date, e.sentence.text[:20]) for e in briefing.timeline] == [
        ("2018-08-13", "OTTAWA — Canada will"),
        ("2018-08-14", "Washington is demand"),
    ]


def test_dairy_positions_attribute_only_determinable_parties(wire):
    briefing = wire.briefing("dairy")
    us = briefing.positions_of("us")
    assert [p.sentence.text[:40] for p in us] == [
        "Besides the dispute panels, the two side",
        "WASHINGTON (Continental Press) — The Uni",
    ]
    assert us[1].speaker == "Robert Lighthizer"
    assert position_texts(briefing, "canada") == [
        "Canadian officials rejected the deadline, saying supply management was not up for "
        "negotiation."
    ]
    shown = texts(quoted(briefing))
    # Mentioned, but no party can be told: timeline only.
    for sentence in (
        "Dairy Farmers of Canada rejected any new concessions",
        "If Ottawa agrees to more dairy access",
    ):
        assert any(s.startswith(sentence) for s in shown)
        assert not any(p.sentence.text.startswith(sentence) for p in briefing.positions)


def test_timeline_is_oldest_first_with_relative_dates_resolved(wire):
    for issue_id in ("dairy", "autos", "chapter-19", "culture"):
        dates = [e.date for e in wire.briefing(issue_id).timeline]
        assert dates == sorted(dates), issue_id
    dairy = {e.sentence.text[:30]: (e.date, e.dated_by) for e in wire.briefing("dairy").timeline}
    assert dairy["WASHINGTON (Continental Press)"] == ("2018-08-20", "Monday")
    assert dairy["Dairy Farmers of Canada reject"] == ("2018-08-14", "Tuesday")
    assert dairy["If Ottawa agrees to more dairy"] == ("2018-09-04", "published")
    autos = wire.briefing("autos")
    first = autos.timeline[0]
    assert (first.date, first.dated_by) == ("2018-08-18", "Saturday")
    culture = wire.briefing("culture")
    assert culture.timeline[0].date == "2018-09-03"  # Trudeau "on Monday"


def test_a_republished_wire_story_is_quoted_once(wire):
    for issue_id in ("dairy", "autos"):
        briefing = wire.briefing(issue_id)
        for section in (
            briefing.standing,
            [p.sentence for p in briefing.positions],
            [e.sentence for e in briefing.timeline],
        ):
            shown = texts(section)
            for i, a in enumerate(shown):
                for b in shown[i + 1 :]:
                    assert fuzz.ratio(a, b) < 80, (issue_id, a, b)
    dairy = wire.briefing("dairy")
    lighthizer = only([e.sentence for e in dairy.timeline], "Robert Lighthizer said on Monday")
    copies = {lighthizer.source, *(source for _, source in lighthizer.also_in)}
    assert copies == {"Continental Press (wire)", "Riverside Gazette"}
    # The lightly edited copy of the sentence is not shown beside the original.
    assert not any("before the month is out" in s.text for s in quoted(dairy))
    text = issue_command(wire.engine, "dairy")
    assert text.count("Robert Lighthizer said on Monday") == 2  # a position and a timeline line
    assert "(also in Riverside Gazette)" in text


def test_other_positions_and_speakers_across_articles(wire):
    autos = wire.briefing("autos")
    assert [(p.party, p.speaker) for p in autos.positions] == [
        ("us", "Donald Trump"),
        ("mexico", "Elena Ortiz"),
    ]
    culture = wire.briefing("culture")
    (canada,) = culture.positions_of("canada")
    assert canada.speaker == "Justin Trudeau"
    assert "would insist on keeping the cultural exemption" in canada.sentence.text
    assert position_texts(culture, "us") == [
        "The U.S. has not publicly opposed the exemption, although American broadcasters have "
        "lobbied against it for years."
    ]
    fast_track = wire.briefing("trilateral")
    (mexico,) = fast_track.positions_of("mexico")
    assert mexico.speaker == "Ildefonso Guajardo"


def test_where_it_stands_quotes_the_latest_articles(wire):
    dairy = wire.briefing("dairy")
    assert dairy.standing[0].date == "2018-09-04"
    assert dairy.standing[0].text.startswith("If Ottawa agrees to more dairy access")
    assert wire.briefing("autos").standing[0].date == "2018-08-21"


def test_no_briefing_quotes_page_furniture(wire, multi):
    for briefings in (wire, multi):
        for issue in briefings.catalogue():
            for sentence in quoted(briefings.briefing(issue)):
                assert not any(f.lower() in sentence.text.lower() for f in FURNITURE), sentence


def test_multi_article_fixtures(multi):
    autos = multi.briefing("autos")
    threat = [
        e for e in autos.timeline if "repeated his threat to impose a tariff" in e.sentence.text
    ]
    assert len(threat) == 1  # Continental Press and its Lakeshore Daily copy
    assert {s for _, s in threat[0].sentence.also_in} | {threat[0].sentence.source} == {
        "Continental Press (wire)",
        "Lakeshore Daily",
    }
    dated = [e.date for e in autos.timeline if e.date]
    assert dated == sorted(dated)
    assert all(e.date is None for e in autos.timeline[len(dated) :])  # undated article last

    chapter_19 = multi.briefing("chapter-19")
    assert any(
        "Washington wants to scrap the Chapter 19 mechanism" in t
        for t in position_texts(chapter_19, "us")
    )
    assert any(
        "a mechanism the U.S. had sought to eliminate" in t
        for t in position_texts(chapter_19, "us")
    )
    assert any(
        t.startswith("In return, Canada kept the independent panels")
        for t in position_texts(chapter_19, "canada")
    )
    assert chapter_19.standing[0].date == "2018-10-01"  # the deal, not the old standoff
    # "Besides dairy, the Chapter 19 dispute panels and the cultural exemption, Canada wants
    # relief from the tariffs …" is about steel and aluminum only.
    for issue_id in ("dairy", "chapter-19", "culture"):
        assert not any(s.text.startswith("Besides dairy") for s in quoted(multi.briefing(issue_id)))
    steel = multi.briefing("steel")
    assert any(t.startswith("Besides dairy") for t in position_texts(steel, "canada"))


# -- what's new, admin catalogue changes, concurrency ---------------------------------------


@pytest.fixture
def fresh(tmp_path, real_encoder) -> Engine:
    return open_engine(tmp_path / "data", real_encoder, bundled=False)


def test_whats_new_lists_issues_that_gained_developments(fresh):
    fresh.ingest_path(MERIDIAN)
    fresh.ingest_path(WIRE)
    briefings = briefings_for(fresh)
    dairy_before = briefings.briefing("dairy")
    before = briefings.article_hashes()

    fresh.ingest_path(WIRE_COPY)  # a republished copy adds nothing new
    assert briefings.whats_new(before).updates == ()

    added = fresh.ingest_path(LAKEVIEW).article
    found = briefings.whats_new(before)
    assert {u.issue.id for u in found.updates} == {"culture", "dairy", "fast-track"}
    assert all(u.article_ids == (added.id,) for u in found.updates)
    assert "culture: 2 new sentences (Cultural industries exemption)" in updates_text(
        list(found.updates)
    )
    assert briefings.whats_new(found.articles).updates == ()
    dairy_after = briefings.briefing("dairy")
    assert dairy_after is not dairy_before
    assert dairy_after.standing[0].article_id == added.id


def test_whatsnew_reports_each_development_once(fresh):
    fresh.ingest_path(MERIDIAN)
    briefings = briefings_for(fresh)
    first = {u.issue.id for u in since_last_check(briefings)}
    assert first == {"chapter-19", "dairy"}  # everything an admin added is new at first
    assert since_last_check(briefings) == []
    fresh.ingest_path(LAKEVIEW)
    assert {u.issue.id for u in since_last_check(briefings)} == {"culture", "dairy", "fast-track"}


def test_admins_add_and_edit_issues_in_the_data_dir(fresh):
    fresh.ingest_path(WIRE)
    briefings = briefings_for(fresh)
    assert briefings.briefing("dairy").mentioned
    # The library's file holds the NAFTA catalogue it keeps (see `open_engine`); the admin's
    # own issue and changes go below it.
    blocks = PACKAGED_CATALOGUE.read_text(encoding="utf-8").split("\n[[issue]]")
    packaged = "\n[[issue]]".join(b for b in blocks if 'id = "dairy"' not in b)
    (fresh.settings.data_dir / "issues.toml").write_text(
        packaged
        + """
[[issue]]
id = "signing-deadline"
title = "The signing deadline"
aliases = ["deadline", "end of the month"]
description = "When the revised pact has to be finished and signed, and who set the date."
parties = ["us", "canada", "mexico"]

[[issue]]
id = "dairy"
title = "Dairy and supply management"
aliases = ["milk", "moo"]
description = "Canada's supply-managed dairy market and U.S. demands for access to it."
parties = ["us", "canada"]
""",
        encoding="utf-8",
    )
    deadline = briefings.briefing("Deadline")
    assert deadline.issue.id == "signing-deadline"
    assert position_texts(deadline, "canada") == [
        "Canadian officials rejected the deadline, saying supply management was not up for "
        "negotiation."
    ]
    assert briefings.briefing("moo").issue.id == "dairy"
    assert "signing-deadline" in issues_command(fresh)

    (fresh.settings.data_dir / "issues.toml").write_text(
        PACKAGED_CATALOGUE.read_text(encoding="utf-8")
        + '[[issue]]\nid = "x"\ntitle = "Milk"\naliases = []\ndescription = ""\nparties = []\n',
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError) as caught:
        briefings.briefing("dairy")
    message = str(caught.value)
    assert "issues.toml" in message
    assert "title 'Milk' is already used by issue 'dairy'" in message
    assert "description: must be a sentence" in message


def test_concurrent_requests_get_the_same_briefings(fresh):
    for path in (MERIDIAN, WIRE, LAKEVIEW):
        fresh.ingest_path(path)
    topics = ["dairy", "milk", "ch 19", "culture", "autos", "fast track"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: briefing_json(briefings_for(fresh).briefing(t)), topics))
    alone = IssueBriefings(fresh)
    for topic, result in zip(topics, results, strict=True):
        assert result == briefing_json(alone.briefing(topic))


def test_issue_text_reads_as_a_briefing(wire):
    text = issue_command(wire.engine, "dairy")
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings[:3] == [
        "Dairy and supply management [dairy]",
        "Canada's supply-managed dairy market: quotas and tariffs on milk, "
        "cheese and butter, U.S. demands for access and the class 7 milk "
        "pricing.",
        "Mentioned in 4 articles.",
    ]
    assert headings[3:] == ["Where it stands", "Positions", "Timeline", "Sources"]
    timeline = text.split("\nTimeline\n")[1].split("\n\nSources\n")[0].splitlines()
    assert all(re.match(r"  \d{4}-\d\d-\d\d  \S.* \[\d\]$", line) for line in timeline)
