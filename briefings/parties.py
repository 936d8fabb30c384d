"""The negotiating parties of a library, found in its articles rather than fixed.

A party is a country or bloc the articles name in at least two articles (one, in a library of
fewer than three), with the names they use for it ("China", "Chinese", "Beijing") and the
officials they tie to it: a titled person named right after the party ("China's Vice Premier
Liu He", "U.S. Trade Representative Robert Lighthizer", "Japanese Prime Minister Shinzo Abe").
The candidate names come from the vocabulary the question reader already uses
(`retrieval.vocabulary.party_names`): general knowledge, not any article's wording.

Parties already in the catalogue (the packaged U.S., Canada and Mexico, or an admin's
corrections) keep their ids and names; what is found for them only adds aliases and officials.
An admin's ``not_parties`` list drops a found party."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from briefings.catalogue import Party
from retrieval.vocabulary import party_names

# Heads of official titles: "Vice Premier", "Trade Representative", "Foreign Minister".
_TITLE_HEADS = (
    "President|Premier|Minister|Secretary|Representative|Ambassador|Chancellor|Adviser|"
    "Advisor|Negotiator|Spokesman|Spokeswoman|Spokesperson|Chairman|Chairwoman|Governor|"
    "Counselor|Envoy|Commissioner|Senator|Councillor|Chief"
)
_TITLE_WORD = r"(?:[A-Z][a-z]+|and|of|for|chief|deputy|vice|trade|foreign|economic|senior|top)"
_TITLE = rf"(?:{_TITLE_WORD}\s+){{0,4}}(?i:{_TITLE_HEADS})"
_NAME_WORD = r"[A-Z][a-zà-ÿ'’-]+"
_PERSON = rf"(?P<person>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})"
_NOT_A_NAME = frozenset(
    """Trade Minister President Premier Secretary Representative House White Office The And
    Said Says On In Of For Department Ministry Council Commission Beijing Washington""".split()
)
_TITLED_PERSON = re.compile(rf"\b{_TITLE}\s+{_PERSON}")
_AFTER_PARTY = re.compile(rf"(?:['’]s)?\s+{_TITLE}\s+{_PERSON}")
MIN_ARTICLES = 2
MIN_PERSON_MENTIONS = 1


@dataclass(frozen=True)
class FoundParty:
    id: str
    party: Party
    articles: int  # how many articles name it


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _surface_pattern(name: str) -> str:
    """How a lower-case vocabulary name appears in text: short forms in capitals ("US",
    "U.S.", "UK"), others capitalised ("Beijing", "European Union")."""
    if len(name.replace(".", "")) <= 3:
        letters = name.replace(".", "").upper()
        dotted = r"\.?".join(re.escape(c) for c in letters) + r"\.?"
        return rf"{re.escape(letters)}|{dotted}"
    return r"\s+".join(re.escape(w[:1].upper()) + re.escape(w[1:]) for w in name.split())


def _key(surface: str) -> str:
    return " ".join(surface.replace(".", "").lower().split())


class PartyFinder:
    """Finds parties and their officials in sentences: one regex holding every name, so each
    sentence is read once whatever the size of the vocabulary."""

    def __init__(self) -> None:
        self._entries = party_names()
        self._entry_of: dict[str, int] = {}
        for number, entry in enumerate(self._entries):
            for name in entry:
                self._entry_of.setdefault(_key(name), number)
        names = sorted({n for entry in self._entries for n in entry}, key=len, reverse=True)
        alternatives = "|".join(f"(?:{_surface_pattern(n)})" for n in names)
        self._names = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])")

    def _mentions(self, text: str) -> list[tuple[re.Match[str], int]]:
        """Each party name in `text`, with its vocabulary entry."""
        found = []
        for match in self._names.finditer(text):
            number = self._entry_of.get(_key(match.group(0)))
            if number is not None:
                found.append((match, number))
        return found

    def find(
        self,
        sentences: Iterable[tuple[str, str]],  # (text, article id)
        known: Mapping[str, Party],
        dropped: Iterable[str] = (),
    ) -> dict[str, Party]:
        """Parties of `known` (extended with what was found) plus the parties found, by id."""
        sentences = list(sentences)
        n_articles = len({a for _, a in sentences})
        least = MIN_ARTICLES if n_articles >= 3 else 1
        dropped = set(dropped)
        seen: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        mentions = [self._mentions(text) for text, _ in sentences]
        for (_text, article), found_here in zip(sentences, mentions, strict=True):
            for match, number in found_here:
                seen[number][match.group(0)].add(article)
        # Which known party each vocabulary entry is (the U.S. entry is the packaged "us").
        owner_of_alias = {a: pid for pid, p in known.items() for a in (*p.aliases, p.name)}
        found: dict[str, tuple[str, list[str], int]] = {}  # id -> (name, aliases, articles)
        entry_party: dict[int, str] = {}
        for number, forms in seen.items():
            articles = set().union(*forms.values())
            if len(articles) < least:
                continue
            aliases = sorted(forms, key=lambda f: (-len(forms[f]), f))
            owner = next((owner_of_alias[a] for a in aliases if a in owner_of_alias), None)
            party_id = owner or _slug(self._entries[number][0])
            if party_id in dropped:
                continue
            name = known[owner].name if owner else _display_name(self._entries[number][0])
            found[party_id] = (name, aliases, len(articles))
            entry_party[number] = party_id
        people = self._officials(sentences, mentions, entry_party)
        out = dict(known)
        taken = {a: pid for pid, p in known.items() for a in (*p.aliases, *p.people)}
        for party_id, (name, aliases, _count) in found.items():
            base = known.get(party_id)
            new_aliases = [a for a in aliases if taken.setdefault(a, party_id) == party_id]
            new_people = [
                p for p in people.get(party_id, ()) if taken.setdefault(p, party_id) == party_id
            ]
            if base is None:
                if not new_aliases:
                    continue
                out[party_id] = Party(
                    name=name, aliases=tuple(new_aliases), people=tuple(new_people)
                )
            else:
                out[party_id] = Party(
                    name=base.name,
                    aliases=tuple(dict.fromkeys((*base.aliases, *new_aliases))),
                    people=tuple(dict.fromkeys((*base.people, *new_people))),
                )
        return out

    def _officials(
        self,
        sentences: list[tuple[str, str]],
        mentions: list[list[tuple[re.Match[str], int]]],
        entry_party: Mapping[int, str],
    ) -> dict[str, list[str]]:
        """Surnames of the officials tied to each party: the party's name (or possessive)
        right before a title and a person's name."""
        votes: dict[str, Counter[str]] = defaultdict(Counter)  # person -> party -> votes
        named_in: list[set[str]] = []
        for (text, _article), found_here in zip(sentences, mentions, strict=True):
            named = {entry_party[n] for _, n in found_here if n in entry_party}
            named_in.append(named)
            # A titled person with no party before the title ("Prime Minister Jacinda
            # Ardern"): the parties the same sentence names get half a vote each.
            for match in _TITLED_PERSON.finditer(text):
                name = _clean_person(match.group("person"))
                if name:
                    for party_id in named:
                        votes[name][party_id] += 0.5
            for match, number in found_here:
                party_id = entry_party.get(number)
                if party_id is None:
                    continue
                person = _AFTER_PARTY.match(text, match.end())
                if person:
                    name = _clean_person(person.group("person"))
                    if name:
                        votes[name][party_id] += 1.5  # the half above, and one
        # Every other sentence naming the person tips the balance a little towards the
        # parties it names ("Ardern spoke for New Zealand"), settling ties.
        by_surname: dict[str, list[str]] = defaultdict(list)
        for name in votes:
            by_surname[name.split()[-1]].append(name)
        if by_surname:
            surnames = "|".join(re.escape(n) for n in sorted(by_surname, key=len, reverse=True))
            surname = re.compile(rf"\b(?:{surnames})\b")
            for (text, _article), named in zip(sentences, named_in, strict=True):
                if not named:
                    continue
                for word in set(surname.findall(text)):
                    for name in by_surname[word]:
                        for party_id in named:
                            votes[name][party_id] += 0.25
        people: dict[str, list[str]] = defaultdict(list)
        for name, counted in votes.items():
            ranked = counted.most_common(2)
            party_id, count = ranked[0]
            if count < MIN_PERSON_MENTIONS or (len(ranked) > 1 and ranked[1][1] == count):
                continue  # never tied to a party, or tied to two equally
            for alias in _person_aliases(name, sentences):
                people[party_id].append(alias)
        return people


def _display_name(vocabulary_name: str) -> str:
    if len(vocabulary_name.replace(".", "")) <= 3:
        return vocabulary_name.upper()
    return " ".join(w.capitalize() for w in vocabulary_name.split())


def _clean_person(name: str) -> str | None:
    """The person's name, without a possessive ("Barack Obama's") or words that are no name."""
    words = name.split()
    if words:
        words[-1] = re.sub(r"['’]s$", "", words[-1])
    while words and words[-1] in _NOT_A_NAME:
        words.pop()
    if len(words) < 2 or any(w in _NOT_A_NAME for w in words):
        return None
    return " ".join(words)


def _person_aliases(full_name: str, sentences: list[tuple[str, str]]) -> list[str]:
    """The words the articles use for a person alone: the surname ("Lighthizer"), and for a
    family-name-first name such as "Liu He" the family name ("Liu") when the articles use it
    alone. A word the articles also use in lower case ("fast", "he") is not a name here."""
    words = full_name.split()
    text = " ".join(t for t, _ in sentences)
    lower = {w for w in re.findall(r"\b[a-z][\w'’-]*", text)}

    def usable(word: str) -> bool:
        return len(word) >= 2 and word.lower() not in lower

    aliases = [words[-1]] if usable(words[-1]) else []
    first = words[0]
    alone = re.compile(rf"(?<![\w’']){re.escape(first)}\b(?!\s+[A-Z])")
    if usable(first) and len(alone.findall(text)) >= 2:
        aliases.append(first)
    return list(dict.fromkeys(aliases))
