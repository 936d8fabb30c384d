"""Briefings for a negotiation the packaged catalogue doesn't know: issues discovered from the
articles, parties found in them, accepted issues stored in the data dir, and the timeline
picture. Real model, real index, real files; the library is the held-out U.S.-China fixtures
(tests/fixtures/heldout), without the bundled NAFTA article."""

from __future__ import annotations

import io
import json
import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from briefings import briefings_for
from briefings.catalogue import CatalogueError, Issue
from briefings.chart import timeline_png
from briefings.commands import issue_command, suggest_command
from briefings.library_text import library_sentences
from briefings.store import IssueStore
from config.settings import Settings
from retrieval.tokenize import tokenize
from tradetalk.engine import Engine
from tradetalk.errors import UnknownIssue

pytestmark = pytest.mark.model

HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "heldout" / "articles"
ARTICLE_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in sorted(HELDOUT.glob("*.md")))
PARTY_AND_PEOPLE = ("trump", "china", "chinese", "beijing", "liu", "xi", "lighthizer", "u.s.")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def library(tmp_path_factory, real_encoder) -> Path:
    """A data dir indexing the held-out articles only, built once (tests copy it)."""
    data = tmp_path_factory.mktemp("heldout") / "data"
    (data / "articles").mkdir(parents=True)
    for path in HELDOUT.glob("*.md"):
        shutil.copy(path, data / "articles" / path.name)
    engine = open_engine(data, real_encoder)
    engine.close()
    return data


def open_engine(data: Path, encoder) -> Engine:
    empty = data.parent / "no-bundled"
    empty.mkdir(exist_ok=True)
    engine = Engine(Settings(_env_file=None, data_dir=data, bundled_dir=empty), encoder=encoder)
    engine.open()
    return engine


@pytest.fixture
def engine(library, tmp_path, real_encoder) -> Engine:
    data = tmp_path / "data"
    shutil.copytree(library, data, symlinks=True)
    built = open_engine(data, real_encoder)
    yield built
    built.close()


def proposal_names(engine: Engine) -> dict[str, list[str]]:
    return {p.id: [p.title.lower(), *p.aliases] for p in briefings_for(engine).proposals()}


def test_suggest_proposes_the_subjects_the_articles_keep_coming_back_to(engine):
    proposals = briefings_for(engine).proposals()
    names = " | ".join(n for names in proposal_names(engine).values() for n in names)
    # What a reader of these five articles expects: tariffs, the farm purchases, soybeans.
    for subject in ("tariff", "soybean", "purchase"):
        assert subject in names.lower(), names
    for proposal in proposals:
        # Nobody who negotiates is an issue, nor is the week they did it in.
        assert not any(w in PARTY_AND_PEOPLE for w in proposal.title.lower().split())
        assert proposal.article_count >= 2
        assert proposal.examples
        for example in proposal.examples:
            assert flat(example.text) in flat(ARTICLE_TEXT)  # verbatim
    text = suggest_command(engine)
    assert text.startswith("Proposed issues (recurring subjects the catalogue lacks)")
    assert re.search(r"^1\. \S.* \[[a-z0-9-]+\] · \d+ articles$", text, re.M)


def test_an_accepted_issue_gets_a_cited_briefing_with_the_parties_found(engine, tmp_path):
    briefings = briefings_for(engine)
    tariffs = next(p for p in briefings.proposals() if "tariff" in p.title.lower())
    issue = briefings.accept(tariffs.id, title="Tariff escalation")
    assert issue.title == "Tariff escalation" and issue.parties == ()
    # Stored in the data dir, merged over the packaged catalogue.
    stored = tomllib.loads((engine.settings.data_dir / "issues.toml").read_text("utf-8"))
    assert [i["id"] for i in stored["issue"]] == [tariffs.id]
    assert tariffs.id not in proposal_names(engine)  # no longer proposed

    briefing = briefings.briefing("tariff escalation")
    assert briefing.mentioned and briefing.article_count >= 3
    parties = dict(briefing.parties)
    # Both found, not fixed: the packaged NAFTA parties are no part of this library.
    assert parties["china"] == "China" and parties["united-states"] == "United States"
    china = briefing.positions_of("china")
    # Each names China, one of its people, or is said by "they" after a sentence that did.
    assert china and all(
        "China" in p.sentence.text
        or "Beijing" in p.sentence.text
        or "Chinese" in p.sentence.text
        or p.speaker
        or p.sentence.text.startswith(("They ", "He ", "She "))
        for p in china
    )
    for cited in briefing.citations:
        assert flat(cited.text) in flat(ARTICLE_TEXT)
        assert cited.url and cited.url.startswith("https://example.net/")
    data = json.loads(issue_command(engine, "tariff escalation", as_json=True))
    assert data["issue"]["id"] == tariffs.id
    assert {p["party"] for p in data["positions"]} >= {"china", "united-states"}

    chart = tmp_path / "tariffs.png"
    text = issue_command(engine, tariffs.id, chart=chart)
    assert text.endswith(f"Timeline picture: {chart}")
    image = Image.open(chart)
    assert image.format == "PNG" and image.size[0] == 880  # twice Discord's ~440 px
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels.max(axis=2) > 150).mean() > 0.005  # drawn on the dark card, not blank
    assert chart.read_bytes() == timeline_png(briefing)  # the same picture /issue attaches


def test_parties_and_officials_are_found_and_can_be_corrected(engine):
    briefings = briefings_for(engine)
    china = briefings.parties().parties["china"]
    assert {"China", "Beijing"} <= set(china.aliases) and "Liu" in china.people
    store = briefings.store
    store.set_party("china", china.model_copy(update={"name": "People's Republic of China"}))
    assert briefings.parties().parties["china"].name == "People's Republic of China"
    store.drop_party("china")
    assert "china" not in briefings.parties().parties


def test_the_store_keeps_hand_edits_and_refuses_a_broken_change(engine):
    briefings = briefings_for(engine)
    path = engine.settings.data_dir / "issues.toml"
    path.write_text("# our own notes: keep them\n", encoding="utf-8")
    first, second, *_ = briefings.proposals()
    briefings.accept(first.id)
    assert path.read_text("utf-8").startswith("# our own notes: keep them\n")

    store = IssueStore(engine.settings.data_dir)
    renamed = store.rename_issue(briefings.resolve(first.id), "A better name")
    assert briefings.resolve("a better name").id == first.id
    assert first.title in renamed.aliases  # the old name still works
    merged = store.merge_issues(briefings.resolve(first.id), second.as_issue())
    assert second.title in merged.aliases
    store.drop_issue("dairy")  # a packaged issue: hidden in this library only
    assert "dairy" not in [i.id for i in briefings.catalogue().issues]
    store.dismiss(second.id)
    assert second.id not in proposal_names(engine)

    before = path.read_text("utf-8")
    clash = Issue(
        id="clash", title="Clash", aliases=("milk",), description="An alias the packaged dairy has."
    )
    with pytest.raises(CatalogueError, match="alias 'milk' is already used by issue 'dairy'"):
        store.add_issue(clash)
    assert path.read_text("utf-8") == before  # nothing half-written


def test_cli_review_commands(engine, tmp_path):
    from cli.main import app, state

    runner = CliRunner()
    data = str(engine.settings.data_dir)
    env = {"TRADETALK_BUNDLED_DIR": str(engine.settings.bundled_dir)}
    engine.close()
    state.settings = None

    def run(*args: str):
        result = runner.invoke(app, ["--data-dir", data, *args], env=env)
        return result.exit_code, result.output.strip()

    code, out = run("issues", "--suggest")
    assert code == 0 and out.startswith("Proposed issues")
    first = re.search(r"^1\. .* \[([a-z0-9-]+)\]", out, re.M).group(1)
    code, out = run("issue-add", first, "--title", "Our first issue")
    assert code == 0 and out.startswith(f"added: {first} — Our first issue")
    code, out = run("issues")
    assert code == 0 and "Our first issue" in out
    chart = tmp_path / "first.png"
    code, out = run("issue", "our first issue", "--chart", str(chart))
    assert code == 0 and Image.open(io.BytesIO(chart.read_bytes())).size[0] == 880
    code, out = run("issue-drop", "no-such-thing")
    assert code == 1 and "no proposed issue 'no-such-thing'" in out
    code, out = run("parties")
    assert code == 0 and re.search(r"^china: China \(names: .*Beijing", out, re.M)
    code, out = run("audit")
    assert f"issue-add {first}: ok" in out


def test_a_library_without_the_bundled_corpus_has_none_of_its_issues(engine):
    """The packaged NAFTA catalogue belongs to the bundled corpus: this library of U.S.-China
    articles lists no NAFTA issue, offers none, and is not briefed on one by name."""
    briefings = briefings_for(engine)
    assert briefings.catalogue().issues == []
    assert briefings.statuses() == []
    assert "us" not in briefings.parties().parties  # the packaged U.S. entry is not used here
    assert not any(i.id in ("dairy", "chapter-19") for i in briefings.suggest(""))
    with pytest.raises(UnknownIssue):
        briefings.briefing("chapter 19")  # no article discusses it here


def test_any_topic_gets_a_briefing_built_on_the_spot_and_can_be_kept(engine, tmp_path):
    briefings = briefings_for(engine)
    briefing = briefings.briefing("soybean purchases")
    assert briefing.kind == "on-demand" and not briefing.curated
    assert briefing.mentioned and briefing.article_count >= 2
    assert any("soybean" in s.text.lower() for s in briefing.citations)
    for cited in briefing.citations:
        assert flat(cited.text) in flat(ARTICLE_TEXT)  # verbatim
    # Positions by party, read from the parses of the sentences found: China's officials
    # confirming it would buy more farm goods (in a sentence naming neither term of the topic).
    farm = briefings.briefing("farm purchases")
    assert farm.kind == "on-demand" and "china" in dict(farm.parties)
    assert any("Beijing" in p.sentence.text for p in farm.positions_of("china"))
    text = issue_command(engine, "soybean purchases", chart=tmp_path / "soy.png")
    assert text.splitlines()[1].startswith("Not a curated issue: built on the spot")
    assert Image.open(tmp_path / "soy.png").size[0] == 880  # twice Discord's ~440 px
    assert json.loads(issue_command(engine, "soybean purchases", as_json=True))["kind"] == (
        "on-demand"
    )

    kept = briefings.keep("soybean purchases")
    assert briefings.resolve("soybean purchases").id == kept.id
    assert briefings.briefing("soybean purchases").kind == "curated"
    assert kept.id in [s.issue.id for s in briefings.statuses()]


def test_proposals_are_briefed_by_name_and_offered_by_autocomplete(engine):
    briefings = briefings_for(engine)
    proposals = briefings.proposals()
    first = proposals[0]
    briefing = briefings.briefing(first.id)
    assert briefing.kind == "proposed" and briefing.mentioned
    offered = [i.id for i in briefings.suggest("")]
    assert first.id in offered
    typed = first.title[:3].lower()
    assert first.id in [i.id for i in briefings.suggest(typed)]
    # Every alias recurs: no phrase from one sentence names an issue.
    sentences = [s.text for s in library_sentences(engine.index)]
    for proposal in proposals:
        for alias in proposal.aliases:
            stems = " ".join(tokenize(alias))
            assert sum(f" {stems} " in f" {' '.join(tokenize(s))} " for s in sentences) >= 2
