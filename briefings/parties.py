"""The negotiating parties of a library, and the officials who speak for them, read from the
parse of its articles (made once at ingest) rather than from fixed lists.

* **Countries and blocs**: the tagger's places, nationalities and organisations that the
  gazetteer knows (`briefings.names`: "China", "Chinese", "Beijing", "EU", "Brussels"), and
  their institutions ("the European Commission", "the Afghan government"), named in at least
  two articles (one, in a library of fewer than three).
* **Other organisations and movements** ("the Taliban", "Mercosur"): named in at least two
  articles *as a side of the negotiation* in at least two: the subject of a verb of
  negotiating or of a stance ("the Taliban agreed", "Mercosur wants"), the other side of
  talks or a deal ("talks with the Taliban", "the EU-Mercosur agreement"). A company or an
  agency the articles only mention is no party.
* **Bare institutions** ("the Commission", "Congress") belong to the party the library names
  them with when it is nearly always the same one ("European Commission", "U.S. Congress").
* **Officials**: a person whose name carries a party in its own phrase: a title ("Iranian
  Foreign Minister Mohammad Javad Zarif", "Taliban spokesman Zabihullah Mujahid"), a
  possessive ("China's Vice Premier Liu He"), an apposition ("Abdullah Abdullah, chairman of
  Afghanistan's High Council"); or, failing that, the party the sentences naming them name
  most (a tie is left unresolved rather than guessed).

Parties already in the catalogue (an admin's corrections; the packaged U.S., Canada and
Mexico where the bundled corpus is part of the library) keep their ids and names; what is
found for them only adds names and officials. An admin's ``not_parties`` drops a found party.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from briefings.catalogue import Party
from briefings.names import (
    GENERIC,
    NameSpan,
    country_display,
    country_id,
    names_in,
    slug,
)
from corpus.parsing import SentenceParse

MIN_ARTICLES = 2
MIN_PERSON_VOTES = 0.75  # one sentence tying a titled person to a party, and no other
INSTITUTION_SHARE = 0.8  # of the library's "<party> <institution>" that must be one party's
# Heads whose "<party> <head>" form is a name of that party itself ("the Afghan government").
GOVERNMENT_HEADS = frozenset(("government", "administration"))
# The other side of talks or a deal: "talks with the Taliban", "a deal between X and Y".
FRAME_NOUNS = frozenset(
    """talk talks negotiation negotiations deal agreement accord pact treaty dialogue meeting
    summit truce ceasefire framework relations dispute standoff partnership round
    association""".split()
)
# Verbs whose subject is a side of a negotiation.
FRAME_VERBS = frozenset(
    """negotiate talk meet agree sign reach conclude strike seal reject accept demand insist
    offer propose want seek refuse oppose withdraw ratify approve back support block veto
    threaten warn urge push press call release pledge commit vow promise resume suspend
    walk break abandon join apply request""".split()
)


@dataclass(frozen=True)
class FoundParty:
    id: str
    party: Party
    articles: int  # how many articles name it


@dataclass(frozen=True)
class LibraryParse:
    """One parsed sentence of the library (what `find_parties` reads)."""

    text: str
    article_id: str
    parse: SentenceParse | None


def _is_outlet(name: NameSpan, outlets: set[str]) -> bool:
    return name.surface.lower() in outlets or name.key in outlets


def _in_frame(parse: SentenceParse, i: int, depth: int = 0, paired: bool = False) -> bool:
    """Is token `i` (a name's head) a side of the negotiation in its sentence? A name alone
    before "talks" or "agreement" is not enough: it may be the venue ("the Geneva talks") or
    the agreement's own name ("the TPP agreement"); `paired`, a hyphenated pair of names
    ("EU-Mercosur"), is.")"""
    dep, head = parse.deps[i], parse.heads[i]
    lemma = parse.lemmas[head].lower()
    if dep in ("nsubj", "nsubjpass") and lemma in FRAME_VERBS:
        return True
    if dep in ("compound", "nmod", "amod") and lemma in FRAME_NOUNS and paired:
        return True  # "the EU-Mercosur deal", "U.S.-Taliban talks": two sides in one word
    if dep == "pobj" and parse.lemmas[head].lower() in ("with", "between", "among", "and"):
        over = parse.heads[head]
        return parse.lemmas[over].lower() in FRAME_NOUNS | FRAME_VERBS
    if dep == "conj" and depth < 3 and head != i:
        return _in_frame(parse, head, depth + 1)  # "talks between Iran and the P5+1"
    return False


def _persons(sentences: list[LibraryParse]) -> tuple[set[str], dict[str, set[str]]]:
    """Full names the tagger read as people, and each surname's full names."""
    full: set[str] = set()
    for sentence in sentences:
        if sentence.parse is None:
            continue
        for name in names_in(sentence.parse):
            if name.kind == "person" and len(name.key.split()) >= 2:
                full.add(name.key)
    by_surname: dict[str, set[str]] = defaultdict(set)
    for name in full:
        by_surname[name.split()[-1]].add(name)
    return full, by_surname


def as_person(name: NameSpan, full: set[str], by_surname: Mapping[str, set[str]]) -> str | None:
    """The person a name is, when it is one: tagged PERSON, or a name the library spells as a
    person elsewhere (the small model tags "Trump" as an organisation now and then)."""
    if name.kind == "person":
        words = name.key.split()
        if len(words) >= 2:
            return name.key
        matches = by_surname.get(words[0]) if words else None
        # A one-word name is someone's surname, or too little to tell a person by.
        return next(iter(matches)) if matches and len(matches) == 1 else None
    if name.surface in full:
        return name.surface
    matches = by_surname.get(name.surface)
    if matches and len(matches) == 1 and name.kind == "group":
        return next(iter(matches))
    return None


class _Tally:
    def __init__(self) -> None:
        self.articles: dict[str, set[str]] = defaultdict(set)  # party key -> articles
        self.frames: dict[str, set[str]] = defaultdict(set)
        self.forms: dict[str, Counter[str]] = defaultdict(Counter)
        # institution word -> party key -> how often the library names it with that party
        self.owners: dict[str, Counter[str]] = defaultdict(Counter)
        self.institutions: dict[str, Counter[str]] = defaultdict(Counter)  # word -> surfaces
        self.votes: dict[str, Counter[str]] = defaultdict(Counter)  # person -> party -> votes
        self.lower_words: set[str] = set()  # words the library writes in lower case
        self.alone: Counter[str] = Counter()  # one-word names of people, as used alone


def _party_key(name: NameSpan) -> str | None:
    if name.kind == "country":
        return f"c:{name.key}"
    if name.kind == "group":
        return f"g:{name.key}"
    return None


def _tokens_of(names: list[NameSpan]) -> dict[int, NameSpan]:
    out = {}
    for name in names:
        for i in range(name.start, name.end):
            out.setdefault(i, name)
    return out


_FOLLOW = frozenset(("compound", "amod", "nmod", "poss", "appos", "npadvmod", "prep", "pobj"))


def phrase_parties(
    parse: SentenceParse, head: int, at: Mapping[int, str], limit: int = 4
) -> list[tuple[int, str]]:
    """Parties named in the phrase of token `head` (its modifiers, possessive, apposition and
    "of" phrases, not its clauses), nearest first, as (links, party key). `at` maps tokens to
    the party keys their names stand for."""
    found: list[tuple[int, str]] = []
    seen = {head}
    frontier = [head]
    # A person named in apposition to a title ("Iran's foreign minister, Zarif"): the title's
    # phrase is theirs too.
    if parse.deps[head] == "appos" and parse.heads[head] != head:
        frontier.append(parse.heads[head])
        seen.add(parse.heads[head])
    for links in range(1, limit + 1):
        nxt = []
        for token in frontier:
            for kid in parse.children[token]:
                if kid in seen or parse.deps[kid] not in _FOLLOW:
                    continue
                if parse.deps[kid] == "prep" and parse.lemmas[kid].lower() not in ("of", "at"):
                    continue  # "envoy to China" is not China's envoy; "minister of Iran" is
                seen.add(kid)
                nxt.append(kid)
                if kid in at and at[kid] not in (p for _, p in found):
                    found.append((links, at[kid]))
        frontier = nxt
    if head in at:
        found.insert(0, (0, at[head]))
    return found


def find_parties(
    sentences: Iterable[LibraryParse],
    known: Mapping[str, Party],
    dropped: Iterable[str] = (),
    outlets: Iterable[str] = (),
) -> dict[str, Party]:
    """Parties of `known` (extended with what was found) plus the parties found, by id."""
    sentences = [s for s in sentences if s.parse is not None]
    n_articles = len({s.article_id for s in sentences})
    least = MIN_ARTICLES if n_articles >= 3 else 1
    outlet_keys = {o.lower() for o in outlets if o}
    full, by_surname = _persons(sentences)
    tally = _Tally()
    read: list[tuple[LibraryParse, list[NameSpan], dict[int, str], dict[int, str]]] = []
    for sentence in sentences:
        parse = sentence.parse
        assert parse is not None
        names = [n for n in names_in(parse) if not _is_outlet(n, outlet_keys)]
        tally.lower_words.update(
            w for w in (parse.word(i) for i in range(len(parse))) if w.islower()
        )
        party_at: dict[int, str] = {}
        person_at: dict[int, str] = {}
        for name in names:
            if name.kind == "person" and len(name.surface.split()) == 1:
                tally.alone[name.surface] += 1
            person = as_person(name, full, by_surname)
            if person:
                for i in range(name.start, name.end):
                    person_at[i] = person
                continue
            if name.kind == "person" and " " not in name.key and name.key[:1].isupper():
                # One word tagged as a person that is nobody's name here: the small model
                # tags "Mercosur" so now and then; it may be an organisation.
                name = replace(name, kind="group", key=name.key.lower())
            key = _party_key(name)
            if name.kind == "institution":
                tally.institutions[name.key][name.surface] += 1
                continue
            if key is None:
                continue
            tally.articles[key].add(sentence.article_id)
            tally.forms[key][name.surface] += 1
            paired = sum(1 for n in names if n.head == name.head) > 1
            if key.startswith("g:") and _in_frame(parse, name.head, paired=paired):
                tally.frames[key].add(sentence.article_id)
            for i in range(name.start, name.end):
                party_at.setdefault(i, key)
            if name.kind == "country":
                _count_institution(parse, name, key, tally)
        read.append((sentence, names, party_at, person_at))

    parties = _parties(tally, least)
    institution_owner = _institution_owners(tally, parties)
    # Bare institutions the library nearly always names with one party are that party's.
    for _sentence, names, party_at, _person_at in read:
        for name in names:
            owner = institution_owner.get(name.key) if name.kind == "institution" else None
            if owner:
                for i in range(name.start, name.end):
                    party_at.setdefault(i, owner)
    people = _officials(read, parties, tally)
    return _merge(parties, people, tally, institution_owner, known, set(dropped))


def _count_institution(parse: SentenceParse, name: NameSpan, key: str, tally: _Tally) -> None:
    """ "the Afghan government", "European Commission": an institution the library names with
    this party (and, for a government, a name of the party itself)."""
    words = name.surface.split()
    if len(words) > 1 and words[-1].lower() in GENERIC:
        tally.owners[words[-1].lower()][key] += 1
    head = name.head
    over = parse.heads[head]
    if over != head and parse.deps[head] in ("amod", "compound", "poss", "nmod"):
        word = parse.word(over)
        low = word.lower()
        if low in GENERIC and parse.pos[over] in ("NOUN", "PROPN"):
            tally.owners[low][key] += 1
            if low in GOVERNMENT_HEADS:
                tally.forms[key][f"{name.surface} {low}"] += 1


def _parties(tally: _Tally, least: int) -> dict[str, tuple[str, str]]:
    """Party key -> (id, display name) of the parties found."""
    out: dict[str, tuple[str, str]] = {}
    for key, articles in tally.articles.items():
        if len(articles) < least:
            continue
        if key.startswith("c:"):
            number = int(key[2:])
            out[key] = (country_id(number), country_display(number))
        elif len(tally.frames[key]) >= least:
            surface = tally.forms[key].most_common(1)[0][0]
            party_id = slug(surface)
            if party_id:
                out[key] = (party_id, surface)
    return out


def _institution_owners(tally: _Tally, parties: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    owners = {}
    for word, counted in tally.owners.items():
        counted = Counter({k: n for k, n in counted.items() if k in parties})
        total = sum(counted.values())
        if not total:
            continue
        key, n = counted.most_common(1)[0]
        if n >= 3 and n / total >= INSTITUTION_SHARE:
            owners[word] = key
    # A bare institution of several words ("state department") is owned as its last word is.
    return {
        inst: owners[inst.split()[-1]]
        for inst in tally.institutions
        if inst.split() and inst.split()[-1] in owners
    }


def _officials(
    read: list[tuple[LibraryParse, list[NameSpan], dict[int, str], dict[int, str]]],
    parties: Mapping[str, tuple[str, str]],
    tally: _Tally,
) -> dict[str, list[str]]:
    """Full names of each party's officials."""
    votes = tally.votes
    plain: list[tuple[str, set[str]]] = []  # (person, parties), for the co-occurrence pass
    undecided: list[tuple[SentenceParse, str, int, dict[int, str], set[str] | None]] = []
    for sentence, names, party_at, person_at in read:
        parse = sentence.parse
        assert parse is not None
        at = {i: k for i, k in party_at.items() if k in parties}
        people_here: dict[str, NameSpan] = {}
        for name in names:
            person = person_at.get(name.start)
            if person and person not in people_here:
                people_here[person] = name
        # Whose phrase each party name is in: "President Donald Trump and Chinese Vice Premier
        # Liu He signed" names China for Liu He, not for Trump.
        phrase_of = {p: set(_phrase_tokens(parse, n.head)) for p, n in people_here.items()}
        for person, name in people_here.items():
            others = set().union(*(t for q, t in phrase_of.items() if q != person))
            # The parties the person's own clause is by, not the ones it is about ("Senator
            # Cotton wrote to Iran's leaders" says nothing of whose senator he is), nor those
            # of another clause ("Mnuchin spoke after the Chinese delegation left").
            clause = _own_clause(parse, name.head)
            named = {
                k
                for i, k in at.items()
                if i in clause and not _object(parse, i) and i not in others
            }
            near = phrase_parties(parse, name.head, at) or _its(parse, name.head, at)
            if near:
                votes[person][near[0][1]] += 1.5
            else:
                title_named = named if _titled(parse, name) else None
                undecided.append((parse, person, name.head, person_at, title_named))
            plain.append((person, named))
    # Every sentence naming a person tips the balance a little towards the parties it names.
    for person, named in plain:
        for key in named:
            votes[person][key] += 0.25
    # "Macron's Prime Minister Michel Barnier": the party of the person their title names.
    first = {p: c.most_common(1)[0][0] for p, c in votes.items() if c}
    for parse, person, head, person_at, title_named in undecided:
        others = {i: first[q] for i, q in person_at.items() if q != person and q in first}
        near = phrase_parties(parse, head, others) or _his(parse, head, others)
        if near:
            votes[person][near[0][1]] += 1.0
        elif title_named:  # "Prime Minister Jacinda Ardern": the sentence's parties
            for key in title_named:
                votes[person][key] += 0.5
    people: dict[str, list[str]] = defaultdict(list)
    for person, counted in votes.items():
        ranked = counted.most_common(2)
        if not ranked:
            continue
        key, count = ranked[0]
        if count < MIN_PERSON_VOTES or (len(ranked) > 1 and ranked[1][1] == count):
            continue  # never tied to a party, or tied to two equally
        people[key].append(person)
    return people


def _its(parse: SentenceParse, head: int, at: Mapping[int, str]) -> list[tuple[int, str]]:
    """ "with its new Prime Minister Jacinda Ardern": the party "its" stands for, the one the
    sentence named last before it."""
    for kid in parse.children[head]:
        for token in (kid, *parse.children[kid]):
            if parse.deps[token] == "poss" and parse.word(token).lower() in ("its", "their"):
                before = [i for i in at if i < token and not _object(parse, i)] or [
                    i for i in at if i < token
                ]
                if before:
                    return [(2, at[max(before)])]
    return []


def _own_clause(parse: SentenceParse, head: int) -> set[int]:
    """The tokens of the clause a person is the subject of, without its subordinate and
    relative clauses; none when they are not a subject ("Mr. Xi told Mr. Trump that ...")."""
    i = head
    for _ in range(4):
        if parse.deps[i] in ("nsubj", "nsubjpass"):
            break
        if parse.deps[i] not in ("compound", "appos", "flat") or parse.heads[i] == i:
            return set()
        i = parse.heads[i]
    else:
        return set()
    verb = parse.heads[i]
    skip: set[int] = set()
    for token in parse.subtree(verb):
        if token == verb or parse.deps[token] not in ("advcl", "relcl", "acl"):
            continue
        participle = parse.word(token).lower().endswith("ing") and not any(
            parse.deps[k] == "mark" for k in parse.children[token]
        )
        if not participle:  # "..., specifying that France was evaluating" is theirs too
            skip.update(parse.subtree(token))
    return set(parse.subtree(verb)) - skip


def _phrase_tokens(parse: SentenceParse, head: int, limit: int = 4) -> list[int]:
    """The tokens of the phrase of a name: its modifiers, possessive, apposition and "of"
    phrases."""
    out, frontier = [head], [head]
    for _ in range(limit):
        nxt = []
        for token in frontier:
            for kid in parse.children[token]:
                if kid not in out and parse.deps[kid] in _FOLLOW:
                    out.append(kid)
                    nxt.append(kid)
        frontier = nxt
    return out


def _his(parse: SentenceParse, head: int, people: Mapping[int, str]) -> list[tuple[int, str]]:
    """ "Macron's Prime Minister Michel Barnier ..., while his finance minister Antoine Armand
    said": the party of the person named last before "his"."""
    for kid in parse.children[head]:
        for token in (kid, *parse.children[kid]):
            if parse.deps[token] == "poss" and parse.word(token).lower() in ("his", "her"):
                before = [i for i in people if i < token]
                if before:
                    return [(2, people[max(before)])]
    return []


def _object(parse: SentenceParse, i: int) -> bool:
    """Is token `i` (or the phrase it modifies) an object: "to Iran", "hit China"?"""
    for _ in range(4):
        dep = parse.deps[i]
        if dep in ("dobj", "dative", "iobj", "attr"):
            return True
        if dep == "pobj":
            if parse.lemmas[parse.heads[i]].lower() != "of":
                return True
            i = parse.heads[parse.heads[i]]  # "the exception of Singapore": as its noun is
            continue
        if dep not in ("compound", "amod", "poss", "nmod", "conj", "appos"):
            return False
        if parse.heads[i] == i:
            return False
        i = parse.heads[i]
    return False


def _titled(parse: SentenceParse, name: NameSpan) -> bool:
    from briefings.names import TITLES

    return any(
        parse.deps[k] == "compound" and parse.word(k).lower().strip(".") in TITLES
        for k in parse.children[name.head]
    ) or any(parse.word(i).lower().strip(".") in TITLES for i in range(name.start, name.end))


def _merge(
    parties: Mapping[str, tuple[str, str]],
    people: Mapping[str, list[str]],
    tally: _Tally,
    institution_owner: Mapping[str, str],
    known: Mapping[str, Party],
    dropped: set[str],
) -> dict[str, Party]:
    owner_of_alias = {a: pid for pid, p in known.items() for a in (*p.aliases, p.name)}
    bare = defaultdict(list)
    for inst, key in institution_owner.items():
        bare[key].extend(s for s in tally.institutions[inst] if s[:1].isupper())
    out = {k: v for k, v in known.items() if k not in dropped}  # an admin dropped it here
    taken = {a: pid for pid, p in known.items() for a in (*p.aliases, *p.people)}
    # A name two people share ("Baradar", "Silva") is the one named most's.
    person_of_alias: dict[str, str] = {}
    everyone = [p for key in parties for p in people.get(key, ())]
    for person in sorted(everyone, key=lambda p: (-sum(tally.votes[p].values()), p)):
        for alias in person_aliases(person, tally):
            person_of_alias.setdefault(alias, person)
    order = sorted(parties, key=lambda k: (-len(tally.articles[k]), k))
    for key in order:
        party_id, name = parties[key]
        forms = tally.forms[key]
        aliases = sorted(forms, key=lambda f: (-forms[f], f)) + sorted(set(bare.get(key, ())))
        owner = next((owner_of_alias[a] for a in aliases if a in owner_of_alias), None)
        party_id = owner or party_id
        if party_id in dropped:
            continue
        base = known.get(party_id)
        new_aliases = [a for a in aliases if taken.setdefault(a, party_id) == party_id]
        officials = []
        for person in people.get(key, ()):
            for alias in person_aliases(person, tally):
                if person_of_alias.get(alias) != person:
                    continue
                if taken.setdefault(alias, party_id) == party_id:
                    officials.append(alias)
        if base is None:
            if not new_aliases:
                continue
            out[party_id] = Party(
                name=name, aliases=tuple(new_aliases), people=tuple(dict.fromkeys(officials))
            )
        else:
            out[party_id] = Party(
                name=base.name,
                aliases=tuple(dict.fromkeys((*base.aliases, *new_aliases))),
                people=tuple(dict.fromkeys((*base.people, *officials))),
            )
    return out


def person_aliases(full_name: str, tally: _Tally) -> list[str]:
    """The names the articles use for a person: the full name, the surname ("Lighthizer"),
    and for a family-name-first name such as "Liu He" the family name ("Liu") when the
    articles use it alone. A word the articles also use in lower case ("fast", "he") is no
    name of anyone here."""
    words = full_name.split()

    def usable(word: str) -> bool:
        return len(word) >= 2 and word.lower() not in tally.lower_words

    aliases = [full_name] if len(words) >= 2 else []
    # "Santos Silva" of "Augusto Santos Silva", "Lula da Silva": the name's last words.
    aliases += [" ".join(words[i:]) for i in range(1, len(words) - 1) if words[i][:1].isupper()]
    if usable(words[-1]):
        aliases.append(words[-1])
    # "Liu" of "Liu He", "Lula" of "Luiz Inácio Lula da Silva": a word the articles use
    # alone for the person.
    aliases += [w for w in words[:-1] if w[:1].isupper() and usable(w) and tally.alone[w] >= 2]
    return list(dict.fromkeys(aliases))


def found_parties(
    sentences: Iterable[tuple[str, str, SentenceParse | None]],
    known: Mapping[str, Party],
    dropped: Iterable[str] = (),
    outlets: Iterable[str] = (),
) -> dict[str, Party]:
    """`find_parties` over (text, article id, parse) triples."""
    return find_parties((LibraryParse(t, a, p) for t, a, p in sentences), known, dropped, outlets)
