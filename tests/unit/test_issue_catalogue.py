"""The issue catalogue (config/issues.toml): validation, topic resolution, admin overrides, and
the stance rules that use its parties. No embedding model: meaning-based matching is off here."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from briefings.catalogue import (
    PACKAGED_CATALOGUE,
    Catalogue,
    CatalogueError,
    catalogue_problems,
    load_catalogue,
)
from briefings.matching import IssueMatcher, SentenceRef
from retrieval.records import ArticleInfo
from tradetalk.errors import UnknownIssue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_shipped_catalogue_has_no_problems():
    data = tomllib.loads(PACKAGED_CATALOGUE.read_text(encoding="utf-8"))
    problems = catalogue_problems(data)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("typed", "issue_id"),
    [
        ("milk", "dairy"),
        ("dairy", "dairy"),
        ("supply management", "dairy"),
        ("ch 19", "chapter-19"),
        ("Chapter 19", "chapter-19"),
        ("dispute panels", "chapter-19"),
        ("culture", "culture"),
        ("cultural exemption", "culture"),
        ("intellectual property", "ip-pharma"),
        ("drug patents", "ip-pharma"),
        ("autos", "autos"),
        ("section 232", "autos"),
        ("fast track", "fast-track"),
        ("trilateral", "fast-track"),
    ],
)
def test_shipped_catalogue_knows_the_issues_people_ask_about(catalogue, typed, issue_id):
    issue = catalogue.resolve(typed)
    assert issue.id == issue_id
    assert {"us", "canada"} <= set(issue.parties)
    assert issue.description.strip()


def test_parties_are_the_three_negotiators(catalogue):
    names = {party.name for party in catalogue.parties.values()}
    assert names == {"U.S.", "Canada", "Mexico"}


@pytest.mark.parametrize("typed", ["CH-19", "  ch.19 ", "Chapter19", "chapter-19", "CHAPTER 19"])
def test_topics_resolve_ignoring_case_spaces_and_punctuation(catalogue, typed):
    assert catalogue.resolve(typed).id == "chapter-19"


def test_topics_resolve_by_stemmed_words(catalogue):
    assert catalogue.resolve("patent").id == "ip-pharma"
    assert catalogue.resolve("Cultural Industry").id == "culture"


def test_misspelt_topic_gets_did_you_mean(catalogue):
    with pytest.raises(UnknownIssue, match=r"no such issue 'diary'; did you mean dairy\?"):
        catalogue.resolve("diary")


def test_nonsense_topic_lists_the_known_issues(catalogue):
    with pytest.raises(UnknownIssue) as caught:
        catalogue.resolve("zzqx")
    message = str(caught.value)
    assert message.startswith("no such issue 'zzqx'")
    assert all(issue.id in message for issue in catalogue)


def test_autocomplete_offers_matching_issues_first(catalogue):
    assert catalogue.suggest("ch 1")[0].id == "chapter-19"
    assert catalogue.suggest("mil")[0].id == "dairy"
    assert [i.id for i in catalogue.suggest("")] == [i.id for i in catalogue]
    assert len(catalogue.suggest("", limit=3)) == 3


BROKEN = """
[parties.us]
name = "U.S."
aliases = ["U.S.", "Washington"]

[parties.canada]
name = "Canada"
aliases = ["Canada", "Washington"]

[[issue]]
id = "dairy"
title = "Dairy"
aliases = ["milk"]
description = "Canada's supply-managed dairy market and U.S. demands for access."
parties = ["us", "canada"]

[[issue]]
id = "dairy"
title = "Dairy again"
aliases = ["butter"]
description = "The same dairy issue entered a second time by mistake."
parties = ["us"]

[[issue]]
id = "milk-quotas"
title = "Milk quotas"
aliases = ["Milk"]
description = ""
parties = ["us", "japan"]

[[issue]]
id = "Auto Tariffs"
title = "Autos"
aliases = ["cars"]
description = "U.S. tariffs on imported cars and the rules of origin for vehicles."
parties = ["us"]
keyword = ["cars"]

[[issue]]
id = "the-of"
title = "Nothing"
aliases = ["nothing at all"]
description = "An issue whose only keyword is made of stop words and never matches."
parties = ["canada"]
keywords = ["the of"]
"""


def test_broken_catalogue_reports_every_problem_at_once():
    problems = catalogue_problems(tomllib.loads(BROKEN))
    expected = [
        "alias 'Washington' also stands for 'us'",  # a party alias claimed twice
        "id 'dairy' is already used",  # duplicate issue id
        "alias 'Milk' is already used by issue 'dairy'",  # alias clash across issues
        "issue #3 (milk-quotas): description: must be a sentence",
        "unknown party 'japan'",
        "issue #4 (Auto Tariffs): id: must be a lower-case slug",
        "keyword: Extra inputs are not permitted",  # a typo for "keywords"
        "keyword 'the of' is only stop words",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    with pytest.raises(CatalogueError) as caught:
        Catalogue.from_data(tomllib.loads(BROKEN), source="issues.toml")
    assert all(fragment in str(caught.value) for fragment in expected[:3])


def test_catalogue_without_issues_or_parties_is_reported():
    problems = catalogue_problems({"issues": []})
    assert any("unknown top-level key(s): issues" in p for p in problems)
    assert any("[parties]" in p for p in problems)
    assert any("[[issue]]" in p for p in problems)


def test_data_dir_catalogue_adds_and_edits_issues(tmp_path):
    (tmp_path / "issues.toml").write_text(
        """
[[issue]]
id = "softwood"
title = "Softwood lumber"
aliases = ["lumber", "softwood"]
description = "U.S. duties on Canadian softwood lumber, outside the NAFTA talks proper."
parties = ["us", "canada"]

[[issue]]
id = "dairy"
title = "Dairy and supply management"
aliases = ["milk", "moo"]
description = "Canada's supply-managed dairy market and U.S. demands for access to it."
parties = ["us", "canada"]
""",
        encoding="utf-8",
    )
    catalogue = load_catalogue(tmp_path)
    assert catalogue.resolve("Lumber").id == "softwood"
    assert catalogue.resolve("moo").id == "dairy"
    assert catalogue.resolve("ch 19").id == "chapter-19"  # packaged issues stay
    ids = [issue.id for issue in catalogue]
    assert ids.count("dairy") == 1 and ids[-1] == "softwood"
    assert catalogue.fingerprint != load_catalogue().fingerprint


def test_data_dir_catalogue_problems_name_the_file(tmp_path):
    (tmp_path / "issues.toml").write_text('[[issue]]\nid = "x"\ntitle = ', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"issues\.toml: not valid TOML"):
        load_catalogue(tmp_path)
    (tmp_path / "issues.toml").write_text(
        '[[issue]]\nid = "steel"\ntitle = "Steel"\naliases = ["milk"]\n'
        'description = "Tariffs on steel."\nparties = ["us"]\n',
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "issues.toml") in message
    assert "alias 'milk' is already used by issue 'dairy'" in message
    assert "description" in message


# -- stances: which party wants what, on which issue -------------------------------------

ARTICLE = ArticleInfo(
    id="a",
    title="T",
    source="S",
    date="2018-09-11",
    url=None,
    content_hash="h",
    bundled=False,
    passage_count=1,
    duplicate_of=None,
)


def about(catalogue: Catalogue, sentence: str) -> dict[str, set[str]]:
    """Issue id -> the parties the sentence states a position for on it."""
    matcher = IssueMatcher(catalogue, np.zeros((len(catalogue), 4), np.float32))
    ref = SentenceRef(sentence, ARTICLE, "a#p1", 0, 0, (1, 0, 0))
    found = matcher.classify(ref, np.zeros(len(catalogue), np.float32))
    return {item.issue_id: {s.party for s in item.stances} for item in found}


def test_both_parties_of_a_contested_clause_get_the_sentence(catalogue):
    sentence = (
        "They include anti-dumping dispute panels contained under Chapter 19 of the current "
        "deal, which the U.S. wants to remove and Canada wants to keep, and Canada’s protected "
        "dairy sector, which isn’t in the current deal but where the U.S. wants concessions."
    )
    found = about(catalogue, sentence)
    assert found["chapter-19"] == {"us", "canada"}
    assert found["dairy"] == {"us"}  # Canada's "wants to keep" is about the panels


def test_an_opening_aside_is_not_what_the_sentence_is_about(catalogue):
    sentence = (
        "Besides dairy, the Chapter 19 dispute panels and the cultural exemption, Canada wants "
        "relief from the tariffs Washington imposed on its steel and aluminum in June."
    )
    assert about(catalogue, sentence) == {"steel-aluminum": {"canada"}}


def test_each_stance_goes_to_the_issue_it_names(catalogue):
    sentence = (
        "Ottawa rejected the push to scrap the dispute panels, while Mexico City accepted a "
        "compromise on auto rules of origin."
    )
    found = about(catalogue, sentence)
    assert found["chapter-19"] == {"canada"}
    assert found["autos"] == {"mexico"}


def test_a_verb_sharing_the_sentence_subject_keeps_its_party(catalogue):
    sentence = (
        "In return, Canada kept the independent panels that settle anti-dumping disputes, a "
        "mechanism the U.S. had sought to eliminate, and preserved the carve-out for its "
        "cultural industries."
    )
    found = about(catalogue, sentence)
    assert found["chapter-19"] == {"canada", "us"}
    assert found["culture"] == {"canada"}


@pytest.mark.parametrize(
    "sentence",
    [
        "Dairy Farmers of Canada rejected any new concessions on milk.",  # an organisation
        "If Ottawa agrees to more dairy access, a deal could follow within days.",  # a condition
        "Dairy has emerged as the issue most likely to make or break the talks.",  # no party
    ],
)
def test_no_position_without_a_party_stating_one(catalogue, sentence):
    assert about(catalogue, sentence) == {"dairy": set()}


def test_speaker_is_named_when_the_sentence_names_one(catalogue):
    matcher = IssueMatcher(catalogue, np.zeros((len(catalogue), 4), np.float32))
    stances = matcher.reader.stances(
        "A Mexican negotiator, Elena Ortiz, said Mexico would not reopen the rules of origin."
    )
    assert [(s.party, s.speaker) for s in stances] == [("mexico", "Elena Ortiz")]
    stances = matcher.reader.stances(
        "U.S. President Donald Trump has threatened to apply auto tariffs to the country."
    )
    assert [(s.party, s.speaker) for s in stances] == [("us", "Donald Trump")]
