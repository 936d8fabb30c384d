"""The parties of a library and their officials, read from the parse of its sentences: blocs
and movements the gazetteer does not know are parties when the articles show them as a side
of the talks, companies and places they only mention are not, and officials belong to the
party their title, possessive or apposition names. spaCy's small English pipeline, no
embedding model; the sentences are written for the test."""

from __future__ import annotations

import pytest

from briefings.catalogue import Party
from briefings.parties import LibraryParse, find_parties
from corpus.parsing import parse_sentences

LIBRARY = {
    "a1": [
        "The Taliban agreed to talks with the United States in Doha on Monday.",
        "U.S. envoy Zalmay Khalilzad met Taliban negotiators for six days.",
        "Huawei said it would fight the ban in court.",
    ],
    "a2": [
        "Taliban spokesman Zabihullah Mujahid said the group wants all foreign troops out.",
        "Talks between the Taliban and the Afghan government resumed in Doha.",
        "The Afghan government released 1,500 prisoners, President Ashraf Ghani said.",
    ],
    "a3": [
        "The Taliban refused to meet the Afghan government before a deal with Washington.",
        "Huawei denied the charges on Tuesday.",
        "Zalmay Khalilzad, the U.S. special envoy, said progress had been made.",
    ],
    "a4": [
        "Mercosur and the European Union signed the EU-Mercosur agreement in Montevideo.",
        "The European Commission wants Mercosur to accept the side letter.",
        "Brazil hosted the summit.",
    ],
    "a5": [
        "Mercosur rejected the side letter, Brazil's foreign minister Mauro Vieira said.",
        "The EU insisted on the sanctions.",
    ],
}


@pytest.fixture(scope="module")
def parties() -> dict[str, Party]:
    items = [(a, t) for a, texts in LIBRARY.items() for t in texts]
    parses = parse_sentences([t for _, t in items])
    sentences = [LibraryParse(t, a, p) for (a, t), p in zip(items, parses, strict=True)]
    return find_parties(sentences, {}, outlets=("Example Wire",))


def test_a_movement_and_a_bloc_are_parties_when_they_negotiate(parties):
    assert parties["taliban"].name == "Taliban"
    assert "Mercosur" in parties["mercosur"].aliases
    # A company the articles only mention, and a city the talks are held in, are no party.
    assert not {"huawei", "doha", "montevideo"} & set(parties)


def test_countries_come_with_their_institutions(parties):
    assert {"U.S.", "United States", "Washington"} <= set(parties["united-states"].aliases)
    assert "Afghan government" in parties["afghanistan"].aliases
    assert "European Commission" in parties["european-union"].aliases


def test_officials_belong_to_the_party_their_title_names(parties):
    assert "Khalilzad" in parties["united-states"].people
    assert "Zabihullah Mujahid" in parties["taliban"].people
    assert "Ghani" in parties["afghanistan"].people
    assert "Vieira" in parties["brazil"].people
    for party in parties.values():
        assert "Huawei" not in party.people
