"""The party finder's one regex holds every name of the vocabulary, the gazetteer's included:
names with brackets ("cocos (keeling) islands") are text in it, never read as regex."""

from __future__ import annotations

from briefings.parties import PartyFinder, party_names


def test_every_vocabulary_name_compiles_and_bracketed_names_are_text() -> None:
    bracketed = [n for entry in party_names() for n in entry if "(" in n]
    assert bracketed  # the gazetteer has some: the case is real
    finder = PartyFinder()  # raised re.error ("missing ), unterminated subpattern") before
    found = [m.group(0) for m, _ in finder._mentions("Canada and the United States met.")]
    assert found == ["Canada", "United States"]
