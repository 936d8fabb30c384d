"""Who wants what: stances in a sentence, attributed to a party and to the issue they concern.

Read from the sentence's parse (made once at ingest, `corpus.parsing`), and measured
(``python -m bench.briefings``, on labelled sentences of real articles). A stance is held by
whoever the sentence says holds it:

* the subject of a verb of stance ("Canada wants to keep", "the Taliban have refused",
  "Italy was ready to support"), or of a verb with a modal ("the U.S. will not go ahead"):
  the party named in the subject's own phrase ("U.S. negotiators", "the government of
  Pakistan", "Brazil's chief negotiator, Ambassador Ronaldo Costa Filho"), or the party of the
  official it names; a verb with no subject of its own shares its governing verb's ("Iran
  has ruled out renegotiating and threatened to retaliate", "Khalilzad is said to have
  told");
* the speaker of a quote or report is the subject of its verb of saying ("“...,” Abe said",
  "said Taliban spokesman Zabihullah Mujahid", "John Kerry ... disagreed, saying ...",
  "according to Shaheen", "RIA Novosti quoted Sergey Lavrov as saying"): a statement by
  someone of a party is that party's stance, with them as speaker, whatever party it talks
  about; a statement by someone of no party ("the official said", "traders said") gives the
  stance to the party acting in what was said;
* "we" and "our" in a quote are the speaker's party; "he", "she" and "they" are the party
  the sentences before (in the same passage) have as their subject;
* a stance in a relative clause ("a pact that President Trump rejected") is about the noun
  the clause hangs on, so it only counts for an issue named there, after the sentence's main
  stances.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from lemminflect import getAllLemmas

from briefings.catalogue import Party
from briefings.names import TITLES
from corpus.parsing import SentenceParse, parse_one
from retrieval.question_frame import SAYING as _QUESTION_SAYING

# Verbs that state what a party wants, refuses, has conceded or has done to the other side.
STANCE_LEMMAS = frozenset(
    """want seek insist demand refuse reject oppose push press call agree accept threaten vow
    promise offer propose keep preserve concede signal argue prefer intend plan aim give
    grant object welcome back support apply sign withdraw impose request urge pledge commit
    rule block veto favor favour resist hope ask approve ratify suspend lift halt cancel
    release decline like allow retaliate renegotiate refrain stop end resume demand
    condemn criticize criticise denounce warn label express""".split()
)
# States of a party taken with "to be": "was opposed to", "was ready to support".
STANCE_STATES = frozenset(
    """opposed committed determined ready willing prepared against keen eager unwilling
    reluctant open""".split()
)
# Verbs of saying: their subject speaks; what they govern is what was said.
SAYING = (
    _QUESTION_SAYING
    | frozenset(
        """say tell add state announce note stress emphasize emphasise insist warn declare write
    tweet argue explain reply respond acknowledge admit claim suggest predict indicate
    confirm reiterate disagree echo""".split()
    )
) - frozenset(("call", "ask", "describe", "praise", "criticize", "criticise", "promise"))
# Nouns that name a stance: "Washington's demands", "China's offer", "Lighthizer's priority".
STANCE_NOUNS = frozenset(
    """demand proposal offer insistence refusal opposition position request plan pledge
    commitment bid push priority objection stance condition objective goal aim wish
    desire veto""".split()
)
MODALS = frozenset("will would must shall 'll wo ca cannot".split())
_FIRST_PERSON = frozenset("i we me us my our ours".split())
# "it" is left out: it is more often a thing than a party.
_THIRD_PERSON = frozenset("he she they him her them his their".split())
# What a subject must be for the party in its phrase to hold its stance: the party, its
# people or its institutions ("Chinese negotiators", "the government of Pakistan"), not
# others of its country ("U.S. dairy farmers want access" is no U.S. position).
_SPEAKS_FOR = frozenset(
    """negotiator negotiators official officials diplomat diplomats envoy envoys
    representative representatives minister ministers leader leaders source sources
    spokesman spokeswoman spokesperson adviser advisers advisor advisors aide aides
    president premier chancellor prime secretary ambassador counterpart counterparts
    country nation""".split()
)
_RELATIVE_WORDS = frozenset("which that who whom whose".split())
# Dependencies by which a verb without a subject shares its governing verb's.
_SHARES_SUBJECT = frozenset(("xcomp", "conj", "advcl", "acomp", "pcomp"))
# Dependencies that stay inside the phrase of a name: "Brazil's chief negotiator, Ambassador
# Ronaldo Costa Filho", "the government of Pakistan", "U.S. negotiators".
_PHRASE = frozenset(
    ("compound", "amod", "nmod", "poss", "appos", "npadvmod", "prep", "pobj", "det")
)
_PHRASE_LINKS = 4

# Where a stance's object ends: a new clause.
_BOUNDARY = re.compile(
    r"[;:]|\s[-–—]{1,2}\s|,\s*(?:and|but|while|whereas|although|though)\s+(?=[A-Z“\"‘']|the\s)|"
    r"\s(?:while|whereas|although)\s|,\s*(?:which|where)\b"
)
# "that the U.S.", "that President Trump": titles may stand between the pronoun and the name.
_RELATIVE = re.compile(r"\b(?:that|which|whom|who)\s+(?:the\s+)?(?:[A-Z][\w.’'-]*\s+){0,3}$", re.I)
RELATIVE_ANTECEDENT_CHARS = 80  # how far before "that" a relative clause's noun is looked for


@dataclass(frozen=True)
class Stance:
    party: str  # party id
    subject: str  # the words that name the party in the sentence
    verb: str
    start: int  # where the subject starts in the sentence
    verb_end: int
    speaker: str | None  # the named person who said it, when the sentence names one
    relative: bool = False  # in a relative clause: about the noun it hangs on (`about`)
    reported: tuple[int, int] | None = None  # a reported statement: what was said
    about: tuple[int, int] | None = None  # a relative clause's noun phrase (characters)
    # What another party's official reports this party did ("Fabius said Iran must suspend
    # work"): the official's party holds the sentence's position, not this one.
    secondary: bool = False


@dataclass(frozen=True)
class Mention:
    """An issue term named in a sentence."""

    issue_id: str
    start: int
    end: int
    term: str = ""


@dataclass(frozen=True)
class _Named:
    """A party's name or an official's in a sentence: tokens, party, person."""

    party: str
    person: str | None  # the person's name as the sentence gives it, titles left out
    surface: str
    start: int  # characters
    end: int


@dataclass(frozen=True)
class _Report:
    verb: int  # the verb of saying (token)
    sayer: int  # who says it (token)
    named: bool  # the sayer is a person the sentence names
    party: str | None
    speaker: str | None
    surface: str
    content: tuple[int, int]  # characters of what was said
    tokens: frozenset[int]  # tokens of what was said


class StanceReader:
    """Finds stances in sentences for one set of parties."""

    def __init__(self, parties: Mapping[str, Party]) -> None:
        self._party_of: dict[str, str] = {}
        self._people: set[str] = set()
        for party_id, party in parties.items():
            for alias in party.aliases:
                self._party_of.setdefault(alias, party_id)
            for person in party.people:
                self._party_of.setdefault(person, party_id)
                self._people.add(person)
        names = sorted(self._party_of, key=len, reverse=True)
        alternatives = "|".join(re.escape(n) for n in names) or r"(?!x)x"
        self._names = re.compile(rf"(?<![\w.])(?:{alternatives})(?:['’]s)?(?![\w])")

    # -- names -------------------------------------------------------------------------------

    def _named(self, parse: SentenceParse) -> dict[int, _Named]:
        """Token -> the party name or official it is part of."""
        text = parse.text
        out: dict[int, _Named] = {}
        spans = []
        for match in self._names.finditer(text):
            surface = re.sub(r"['’]s$", "", match.group(0))
            spans.append((match.start(), match.start() + len(surface), surface))
        for start, end, surface in spans:
            tokens = [
                i for i in range(len(parse)) if parse.starts[i] < end and start < parse.ends[i]
            ]
            if not tokens or _inside_other_name(parse, tokens):
                continue
            party = self._party_of[surface]
            person = _person_name(parse, tokens) if surface in self._people else None
            named = _Named(party, person, surface, start, end)
            for i in tokens:
                out.setdefault(i, named)
        return out

    # -- stances -----------------------------------------------------------------------------

    def stances(
        self,
        sentence: str,
        parse: SentenceParse | None = None,
        before: Sequence[SentenceParse] = (),
    ) -> list[Stance]:
        """Every stance in `sentence`, the main one first. `parse` is its parse from the
        index (a sentence given without one, in tests and tools, is parsed here); `before`,
        the parses of the sentences before it in its passage, tell whom a pronoun means."""
        if parse is None or parse.text != sentence:
            parse = parse_one(sentence)
        named = self._named(parse)
        reports = self._reports(parse, named, before)
        found: list[tuple[tuple, Stance]] = []
        taken: set[int] = set()
        for v in range(len(parse)):
            kind = _predicate(parse, v)
            if kind is None or kind == "say":
                continue
            if _conditional(parse, v):
                continue  # "If Ottawa agrees to more access, ..." states no position
            if parse.deps[v] == "xcomp" and _predicate(parse, parse.heads[v]) is not None:
                continue  # "threatened to apply": one stance, the governing verb's
            subject = _subject(parse, v)
            if subject is None:
                continue
            report = _enclosing(reports, v)
            if report is not None and report.party is None and report.named:
                continue  # what a consultant or a lobbyist says a party did is their view
            if kind == "modal" and report is not None and (report.party or report.named):
                continue  # what someone says a party will do is their report, not its stance
            holder = self._holder(parse, subject, named, report, before)
            if holder is None:
                continue
            party, speaker, surface, start = holder
            relative = _relative(parse, v)
            secondary = report is not None and report.party is not None and report.party != party
            if report is not None and report.party == party and speaker is None:
                speaker = report.speaker
            if secondary:
                speaker = None
            priority = 2 if relative else (1 if secondary else 0)
            taken.add(v)
            found.append(
                (
                    (priority, _depth(parse, v), parse.starts[v]),
                    Stance(
                        party=party,
                        subject=surface,
                        verb=_verb_words(parse, v),
                        start=start,
                        verb_end=parse.ends[v],
                        speaker=speaker,
                        relative=relative,
                        about=_antecedent(parse, v) if relative else None,
                        secondary=secondary,
                    ),
                )
            )
        for n in range(len(parse)):
            nominal = self._nominal(parse, n, named, reports)
            if nominal is not None:
                found.append(((0, _depth(parse, n) + 1, parse.starts[n]), nominal))
        for report in reports:
            inside = [
                s
                for _, s in found
                if not s.relative and report.content[0] <= s.start < report.content[1]
            ]
            if report.party is None:
                if inside or report.named or not _speaks_for(parse, report.sayer):
                    continue  # "a report said", "traders said": no one's statement
                # "Merkel has doubts ..., her spokesman said", "Brian Stanley said the Irish
                # parliament has spoken": said by someone of no party found, it is the stance
                # of the party it is about, in the words of that party's person if it names one.
                content_holder = self._content_subject(parse, report, named, before)
                if content_holder is None:
                    continue
                party, speaker, surface, start = content_holder
                speaker = speaker or _entity_person(parse, report.sayer, named)
            else:
                party, speaker, surface = report.party, report.speaker, report.surface
                if speaker is None:
                    # "“(Macron) has very firmly reiterated ...,” a French presidential
                    # adviser told reporters": the person of that party the report is about.
                    about = self._content_subject(parse, report, named, before)
                    if about is not None and about[0] == party:
                        speaker = about[1]
            found.append(
                (
                    (0, _depth(parse, report.verb), parse.starts[report.verb]),
                    Stance(
                        party=party,
                        subject=surface,
                        verb=_verb_words(parse, report.verb),
                        start=report.content[0],
                        verb_end=report.content[0],
                        speaker=speaker,
                        reported=report.content,
                    ),
                )
            )
        found.sort(key=lambda pair: pair[0])
        return [stance for _, stance in found]

    def reports(self, sentence: str, parse: SentenceParse | None = None) -> list[_Report]:
        if parse is None or parse.text != sentence:
            parse = parse_one(sentence)
        return self._reports(parse, self._named(parse), ())

    def _reports(
        self, parse: SentenceParse, named: Mapping[int, _Named], before: Sequence[SentenceParse]
    ) -> list[_Report]:
        """The statements the sentence attributes to someone, with what they said."""
        out = []
        for v in range(len(parse)):
            sayer = None
            if _predicate(parse, v) == "say":
                sayer = _quoted_as_saying(parse, v)
                if sayer is not None:  # what is quoted is what the quoting verb governs
                    quote = parse.heads[parse.heads[v]]
                    skip = set(parse.subtree(sayer)) | set(parse.subtree(parse.heads[v]))
                    subject = _subject(parse, quote)
                    skip |= set(parse.subtree(subject)) if subject is not None else set()
                    content = [t for t in parse.subtree(quote) if t not in skip and t != quote]
                else:
                    sayer = _subject(parse, v)
                    content = _said(parse, v)
            elif parse.lemmas[v].lower() == "accord" and parse.word(v).lower() == "according":
                to = next((k for k in parse.children[v] if parse.lemmas[k].lower() == "to"), None)
                sayer = (
                    next((k for k in parse.children[to] if parse.deps[k] == "pobj"), None)
                    if to is not None
                    else None
                )
                root = parse.roots[0] if parse.roots else 0
                mine = set(parse.subtree(v))
                content = [t for t in parse.subtree(root) if t not in mine]
            else:
                continue
            if sayer is None or not content:
                continue
            holder = self._holder(parse, sayer, named, None, before)
            party, speaker, surface = (
                (holder[0], holder[1], holder[2]) if holder else (None, None, parse.word(sayer))
            )
            chars = (parse.starts[min(content)], parse.ends[max(content)])
            named_person = _entity_person(parse, sayer, named) is not None or (
                sayer in named and named[sayer].person is not None
            )
            out.append(
                _Report(v, sayer, named_person, party, speaker, surface, chars, frozenset(content))
            )
        return out

    def _nominal(self, parse, n, named, reports) -> Stance | None:
        """ "Washington's demands for structural reforms", "the highest priority of US Trade
        Representative Robert Lighthizer": a stance named by a noun, held by the party its
        possessive, modifier or "of" phrase names."""
        if parse.pos[n] != "NOUN" or parse.lemmas[n].lower() not in STANCE_NOUNS:
            return None
        for kid in parse.children[n]:
            dep = parse.deps[kid]
            if dep == "prep" and parse.lemmas[kid].lower() == "of":
                kid = next((k for k in parse.children[kid] if parse.deps[k] == "pobj"), -1)
            elif dep not in ("poss", "compound", "amod"):
                continue
            if kid < 0:
                continue
            near = _phrase_names(parse, kid, named) if kid not in named else [named[kid]]
            if not near:
                continue
            holder = near[0]
            report = _enclosing(reports, n)
            if report is not None and report.party not in (None, holder.party):
                return None
            speaker = holder.person or _entity_person(parse, kid, named)
            return Stance(
                party=holder.party,
                subject=holder.surface,
                verb=parse.word(n),
                start=holder.start,
                verb_end=parse.ends[n],
                speaker=speaker,
            )
        return None

    def _content_subject(self, parse, report, named, before):
        for v in sorted(report.tokens, key=lambda t: _depth(parse, t)):
            if parse.pos[v] in ("VERB", "AUX") and parse.deps[v] in ("ccomp", "ROOT", "conj"):
                subject = _subject(parse, v)
                if subject is not None:
                    return self._holder(parse, subject, named, None, before)
                return None
        return None

    def _holder(
        self,
        parse: SentenceParse,
        subject: int,
        named: Mapping[int, _Named],
        report: _Report | None,
        before: Sequence[SentenceParse],
    ) -> tuple[str, str | None, str, int] | None:
        """(party, speaker, the words naming it, where they start) for a subject token."""
        word = parse.word(subject).lower()
        if parse.deps[subject] in ("nsubj", "nsubjpass") and word in _RELATIVE_WORDS:
            clause = parse.heads[subject]
            if parse.deps[clause] == "relcl":
                subject = parse.heads[clause]  # "the United States, which cut ties"
                word = parse.word(subject).lower()
        if parse.pos[subject] in ("VERB", "AUX") and parse.deps[subject] == "csubj":
            inner = _subject(parse, subject)  # "negotiators meeting this week have agreed"
            if inner is None:
                return None
            subject, word = inner, parse.word(inner).lower()
        if subject not in named and (
            parse.pos[subject] == "PRON" or word in _FIRST_PERSON | _THIRD_PERSON
        ):
            return self._pronoun(parse, subject, word, report, before, named)
        near = _phrase_names(parse, subject, named)
        if near and subject not in named and not _speaks_for(parse, subject):
            return None  # "U.S. dairy farmers want", "Brazil's space research institute"
        if not near:
            # "his side would settle": a possessive pronoun in the subject's phrase
            for kid in parse.children[subject]:
                if parse.deps[kid] == "poss" and parse.pos[kid] == "PRON":
                    return self._pronoun(parse, kid, parse.word(kid).lower(), report, before, named)
            return None
        party_name = near[0]
        # The speaker: the subject itself when it is a person ("Macron's Prime Minister
        # Michel Barnier"), else the person of that party its phrase names.
        if subject in named and named[subject].person:
            speaker = named[subject].person
        else:
            speaker = _entity_person(parse, subject, named)
            if speaker is None:
                person = next((n for n in near if n.person and n.party == party_name.party), None)
                speaker = person.person if person else _person_in_phrase(parse, subject, named)
        start = min(parse.starts[t] for t in _phrase_tokens(parse, subject))
        return party_name.party, speaker, party_name.surface, start

    def _pronoun(self, parse, token, word, report, before, named):
        start = parse.starts[token]
        if word not in _FIRST_PERSON and word not in _THIRD_PERSON:
            return None  # "it", "this", "one": rarely a party
        if word in _FIRST_PERSON:
            if report is not None and report.party is not None:
                return report.party, report.speaker, report.surface, start
            return None
        # "Liu said his side would settle": in a report, "he" is its speaker.
        if report is not None and report.party is not None and word in ("he", "she", "his", "her"):
            return report.party, None, parse.word(token), start
        # "he said", "they have refused": the subject the passage had last (for "he" and
        # "she", a person).
        personal = word in ("he", "she", "his", "her", "him")
        for earlier in reversed(before):
            earlier_named = self._named(earlier)
            subjects = [
                v
                for v in sorted(range(len(earlier)), key=lambda t: _depth(earlier, t))
                if earlier.deps[v] in ("nsubj", "nsubjpass")
            ]
            for v in subjects:
                near = _phrase_names(earlier, v, earlier_named)
                if not near:
                    continue
                if personal and not (
                    any(n.person for n in near) or _entity_person(earlier, v, earlier_named)
                ):
                    continue
                return near[0].party, None, parse.word(token), start
        return None


def _speaks_for(parse: SentenceParse, token: int) -> bool:
    """Can a common noun stand for its party: "negotiators", "government", "minister"?"""
    from briefings.names import GENERIC

    word = parse.word(token).lower()
    person = any(label == "PERSON" and start <= token < end for start, end, label in parse.ents)
    return (
        person
        or word in GENERIC
        or word in TITLES
        or word in _SPEAKS_FOR
        or parse.lemmas[token].lower() in _SPEAKS_FOR
    )


def _inside_other_name(parse: SentenceParse, tokens: list[int]) -> bool:
    """Is this name part of a longer name of something else: "Canada" in "Dairy Farmers of
    Canada", "Washington" in "The Washington Post", "China" in "the US-China Business
    Council", "Afghan" in "the Afghan Taliban"? A longer name that is only the party's
    institution ("European Commission", "the Afghan government") is the party's own."""
    from briefings.names import GENERIC

    for start, end, label in parse.ents:
        if label in ("DATE", "TIME", "CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"):
            continue
        if start <= tokens[0] and tokens[-1] < end and (end - start) > len(tokens):
            heads = [
                i
                for i in range(start, end)
                if not start <= parse.heads[i] < end or parse.heads[i] == i
            ]
            head = heads[-1] if heads else end - 1
            if head in tokens:
                return False
            others = [
                parse.word(i).lower().strip(".")
                for i in range(start, end)
                if i not in tokens and parse.pos[i] not in ("DET", "PUNCT", "PART", "ADP")
            ]
            return not all(w in GENERIC or w in TITLES for w in others)
    return False


def _person_name(parse: SentenceParse, tokens: list[int]) -> str:
    """A person's name as the sentence gives it: the PERSON entity around it, titles left
    out ("Treasury Secretary Steven Mnuchin" -> "Steven Mnuchin")."""
    for start, end, _label in parse.ents:
        if start <= tokens[0] and tokens[-1] < end:
            words = [parse.word(i) for i in range(start, end)]
            break
    else:
        words = [parse.word(i) for i in tokens]
    while len(words) > 1 and words[0].lower().strip(".") in TITLES:
        words = words[1:]
    return re.sub(r"['’]s$", "", " ".join(words))


@lru_cache(maxsize=20_000)
def _verb_lemmas(word: str, lemma: str) -> frozenset[str]:
    """The tagger's lemma and the lexicon's ("hopes" is "hope", whatever the tagger says)."""
    return frozenset((lemma, *getAllLemmas(word).get("VERB", ())))


def _predicate(parse: SentenceParse, v: int) -> str | None:
    """What verb `v` is: "stance", "say", "modal" (a verb with a modal: "will not go
    ahead"), or None."""
    pos = parse.pos[v]
    word = parse.word(v).lower()
    if pos == "VERB":
        lemmas = _verb_lemmas(word, parse.lemmas[v].lower())
        if lemmas & SAYING and not _is_stance_use(parse, v, lemmas):
            return "say"
        if lemmas & STANCE_LEMMAS:
            return "stance"
        if "look" in lemmas and any(parse.lemmas[k].lower() == "for" for k in parse.children[v]):
            return "stance"  # "the EU is looking for increased access"
        if parse.deps[v] != "relcl" and any(
            parse.deps[k] == "aux" and parse.word(k).lower().strip("'") in MODALS
            for k in parse.children[v]
        ):
            return "modal"
        return None
    if pos in ("ADJ", "VERB", "AUX") and word in STANCE_STATES:
        return "stance"
    return None


def _is_stance_use(parse: SentenceParse, v: int, lemmas: frozenset[str]) -> bool:
    """A verb of saying used for a demand, with no statement following: "insist on", "warn
    of", "urge to"."""
    return bool(lemmas & STANCE_LEMMAS) and not any(
        parse.deps[k] in ("ccomp", "parataxis") for k in parse.children[v]
    )


def _subject(parse: SentenceParse, v: int, depth: int = 0) -> int | None:
    """The token that is the subject of verb `v`: its own, the agent of a passive ("imposed
    by the U.S."), or its governing verb's."""
    kids = parse.children[v]
    subjects = [k for k in kids if parse.deps[k] in ("nsubj", "csubj")]
    if subjects:
        # Two subjects is a misparse ("DUBAI (Reuters) - Iranian President Hassan Rouhani
        # said"): the one nearest the verb.
        return min(subjects, key=lambda k: abs(k - v))
    for kid in kids:
        if parse.deps[kid] == "agent":
            pobj = next((k for k in parse.children[kid] if parse.deps[k] == "pobj"), None)
            if pobj is not None:
                return pobj
    for kid in kids:
        if parse.deps[kid] == "nsubjpass":
            # The subject of a passive stance is its patient ("sanctions were imposed"),
            # except for states ("was opposed") and "is said to have told".
            word = parse.word(v).lower()
            if word in STANCE_STATES or any(parse.deps[k] == "xcomp" for k in kids):
                return kid
            return None
    head = parse.heads[v]
    if head != v and parse.deps[v] in _SHARES_SUBJECT and depth < 4:
        if parse.deps[v] == "advcl" and not parse.word(v).lower().endswith("ing"):
            return None  # "after X left": a clause of its own
        if parse.deps[v] == "conj" and not any(
            parse.deps[k] == "cc" and head < k < v for k in parse.children[head]
        ):
            return (
                None  # a conjunct with no "and"/"but" before it is a misparse, not "X did A and B"
            )
        if parse.deps[v] == "pcomp" and parse.pos[head] == "ADP" and parse.heads[head] != head:
            head = parse.heads[head]  # "dealt a blow ... by demanding a veto"
        return _subject(parse, head, depth + 1)
    return None


def _said(parse: SentenceParse, v: int) -> list[int]:
    """The tokens of what verb of saying `v` reports: its clause complement, else the rest of
    the sentence beside its subject (“...,” said X)."""
    for kid in parse.children[v]:
        if parse.deps[kid] in ("ccomp", "parataxis"):
            return parse.subtree(kid)
    if parse.deps[v] == "parataxis" and parse.heads[v] != v:
        # "It is conceivable ..., Department spokesman Jeff Rathke said": what the verb of
        # saying interrupts is what was said.
        mine = set(parse.subtree(v))
        return [t for t in parse.subtree(parse.heads[v]) if t not in mine]
    subject = _subject(parse, v)
    skip = set(parse.subtree(subject)) if subject is not None else set()
    skip.add(v)
    rest = [t for t in parse.subtree(v) if t not in skip and parse.pos[t] != "PUNCT"]
    if parse.deps[v] == "ROOT":
        return rest
    for kid in parse.children[v]:
        if parse.deps[kid] in ("dobj", "xcomp") and parse.lemmas[kid].lower() not in (
            "reporter",
            "reporters",
        ):
            return parse.subtree(kid)
    return rest if parse.deps[v] == "advcl" else []


def _quoted_as_saying(parse: SentenceParse, v: int) -> int | None:
    """ "RIA Novosti quoted Sergey Lavrov as saying": the one quoted speaks."""
    if parse.word(v).lower() != "saying":
        return None
    as_ = parse.heads[v]
    if parse.lemmas[as_].lower() != "as":
        return None
    quote = parse.heads[as_]
    if parse.lemmas[quote].lower() not in ("quote", "cite"):
        return None
    return next((k for k in parse.children[quote] if parse.deps[k] == "dobj"), None)


_CONDITIONS = frozenset(("if", "unless", "whether", "should"))


def _conditional(parse: SentenceParse, v: int) -> bool:
    """Is verb `v` in a condition ("if Ottawa agrees", "unless Beijing gives way")?"""
    i = v
    for _ in range(3):
        if any(
            parse.deps[k] == "mark" and parse.word(k).lower() in _CONDITIONS
            for k in parse.children[i]
        ):
            return True
        if parse.deps[i] not in ("xcomp", "conj") or parse.heads[i] == i:
            return False
        i = parse.heads[i]
    return False


def _enclosing(reports: Iterable[_Report], v: int) -> _Report | None:
    inside = [r for r in reports if v in r.tokens]
    return min(inside, key=lambda r: len(r.tokens)) if inside else None


def _depth(parse: SentenceParse, v: int) -> int:
    return sum(1 for _ in parse.ancestors(v))


def _relative(parse: SentenceParse, v: int) -> bool:
    """Is verb `v` in a relative clause ("a pact that Trump rejected", "the tariffs
    Washington imposed")?"""
    i = v
    for _ in range(4):
        dep = parse.deps[i]
        if dep in ("relcl", "acl"):
            return True
        if dep not in ("xcomp", "conj", "aux") or parse.heads[i] == i:
            return False
        i = parse.heads[i]
    return False


def _antecedent(parse: SentenceParse, v: int) -> tuple[int, int] | None:
    """Characters of the noun phrase a relative clause hangs on, without the clause."""
    i = v
    while parse.deps[i] not in ("relcl", "acl") and parse.heads[i] != i:
        i = parse.heads[i]
    noun = parse.heads[i]
    if noun == i:
        return None
    # "Chapter 19 of the current deal, which the U.S. wants to remove": the clause is about the
    # whole phrase, which the parser may hang on its last noun; "the panels ..., a mechanism
    # the U.S. had sought to eliminate": an apposition stands for the phrase it renames.
    for _ in range(4):
        if parse.deps[noun] == "pobj" and parse.lemmas[parse.heads[noun]].lower() == "of":
            up = parse.heads[parse.heads[noun]]
        elif parse.deps[noun] == "appos":
            up = parse.heads[noun]
        else:
            break
        if up == noun or parse.pos[up] not in ("NOUN", "PROPN"):
            break
        noun = up
    clause = set(parse.subtree(i))
    tokens = [t for t in parse.subtree(noun) if t not in clause]
    return (parse.starts[min(tokens)], parse.ends[max(tokens)]) if tokens else None


def _phrase_tokens(parse: SentenceParse, head: int) -> list[int]:
    out, frontier = [head], [head]
    for _ in range(_PHRASE_LINKS):
        nxt = []
        for t in frontier:
            for kid in parse.children[t]:
                if parse.deps[kid] in _PHRASE and kid not in out:
                    out.append(kid)
                    nxt.append(kid)
        frontier = nxt
    return out


def _phrase_names(parse: SentenceParse, head: int, named: Mapping[int, _Named]) -> list[_Named]:
    """The names in the phrase of token `head` (its modifiers, possessive, apposition and
    "of"/"at" phrases, not its clauses), nearest first. A preposition costs no link of its own
    ("secretary for economic relations at Argentina's foreign ministry")."""
    found: list[_Named] = []
    if head in named:
        found.append(named[head])
    seen = {head}
    frontier = [head]
    if parse.deps[head] == "appos" and parse.heads[head] != head:
        frontier.append(parse.heads[head])
        seen.add(parse.heads[head])
        if parse.heads[head] in named:
            found.append(named[parse.heads[head]])
    speaks = _speaks_for(parse, head)
    allowed = {"of", "at", "for"} | ({"in", "from"} if speaks else set())
    for _ in range(_PHRASE_LINKS):
        nxt = []
        for t in frontier:
            kids = list(parse.children[t])
            for kid in kids:
                if kid in seen or parse.deps[kid] not in _PHRASE:
                    continue
                if parse.deps[kid] == "prep":
                    if parse.lemmas[kid].lower() not in allowed:
                        continue
                    seen.add(kid)
                    # The preposition is free: its object is one link from `t`.
                    kids.extend(k for k in parse.children[kid] if k not in seen)
                    continue
                seen.add(kid)
                nxt.append(kid)
                if kid in named and named[kid] not in found:
                    found.append(named[kid])
        frontier = nxt
    if not found:
        # Coordinated subjects: "The United States and the Taliban have agreed": the first.
        for kid in parse.children[head]:
            if parse.deps[kid] == "conj" and kid in named:
                found.append(named[kid])
    return found


def _entity_person(parse: SentenceParse, token: int, named: Mapping[int, _Named]) -> str | None:
    """The person a PERSON entity at `token` names, when no party lists them."""
    for start, end, label in parse.ents:
        if label == "PERSON" and start <= token < end:
            name = _person_name(parse, list(range(start, end)))
            return name if len(name.split()) >= 2 else None
    return None


def _person_in_phrase(parse: SentenceParse, head: int, named: Mapping[int, _Named]) -> str | None:
    """A person the subject's phrase names whom the parties do not list ("A Mexican
    negotiator, Elena Ortiz, said")."""
    tokens = set(_phrase_tokens(parse, head))
    for start, end, label in parse.ents:
        if label == "PERSON" and any(t in tokens for t in range(start, end)):
            if any(t in named for t in range(start, end)):
                continue
            name = _person_name(parse, list(range(start, end)))
            if len(name.split()) >= 2:
                return name
    return None


def _verb_words(parse: SentenceParse, v: int) -> str:
    """The verb with its auxiliaries and negation, as written ("had sought", "won't")."""
    tokens = [k for k in parse.children[v] if parse.deps[k] in ("aux", "neg", "auxpass") and k < v]
    tokens.append(v)
    particle = [k for k in parse.children[v] if parse.deps[k] == "prt"]
    tokens += particle
    return " ".join(parse.word(t) for t in sorted(tokens))


def stance_issues(
    stance: Stance, later: Iterable[Stance], sentence: str, mentions: list[Mention]
) -> set[str]:
    """The issues a stance is about: those mentioned in its object (up to the next clause or
    stance); else the nearest one mentioned before it ("panels, which the U.S. wants to
    remove"); else the nearest after it."""
    if stance.reported is not None:
        lo, hi = stance.reported
        return {m.issue_id for m in mentions if lo <= m.start < hi}
    if stance.relative:
        if stance.about is not None:
            lo, hi = stance.about
            return {m.issue_id for m in mentions if lo <= m.start < hi}
        return _antecedent_issues(sentence, stance.start, mentions)
    end = len(sentence)
    boundary = _BOUNDARY.search(sentence, stance.verb_end)
    if boundary:
        end = boundary.start()
    for other in later:
        if other.start > stance.verb_end:
            end = min(end, other.start)
    inside = {m.issue_id for m in mentions if stance.verb_end <= m.start < end}
    if inside:
        return inside
    before = [m for m in mentions if m.end <= stance.start]
    if before:
        return {max(before, key=lambda m: m.end).issue_id}
    after = [m for m in mentions if m.start >= end]
    if after:
        return {min(after, key=lambda m: m.start).issue_id}
    return set()


_NOT_A_NOUN = frozenset(
    """and or but nor so yet if as than that which who where when while since because
    said says told on in at of for from with by to into about after before over under
    between during without against""".split()
)
_SEGMENT_START = re.compile(r"[,;:—(]\s*(?=[^,;:—(]*$)")
_APPOSITIVE = re.compile(r"^\s*(?:a|an|the)\s+[\w'’-]+(?:\s+[\w'’-]+)?\s*$", re.I)


def _antecedent_issues(sentence: str, start: int, mentions: list[Mention]) -> set[str]:
    """The issue named by the noun a relative clause at `start` hangs on: after a comma, the
    phrase before it ("Chapter 19 of the current deal, which the U.S. wants to remove");
    without one, the noun phrase right before the clause ("in a pact that Trump rejected":
    "a pact", no issue). An appositive ("..., a mechanism the U.S. had sought to eliminate")
    stands for the phrase it renames."""
    relative = _RELATIVE.search(sentence[max(0, start - 40) : start])
    end = start - (len(relative.group(0)) if relative else 0)
    head = sentence[:end]
    for _step in range(2):
        stripped = head.rstrip()
        if stripped.endswith(","):
            body = stripped[:-1]
            cut = _SEGMENT_START.search(body)
            seg_start = max(end - RELATIVE_ANTECEDENT_CHARS, cut.end() if cut else 0)
        else:
            body = stripped
            seg_start = _noun_phrase_start(body)
        near = [m for m in mentions if seg_start <= m.start < len(body)]
        if near:
            return {max(near, key=lambda m: m.end).issue_id}
        if not _APPOSITIVE.match(body[seg_start:]) or not body[:seg_start].rstrip().endswith(","):
            return set()
        head = body[:seg_start]
        end = len(head)
    return set()


def _noun_phrase_start(text: str) -> int:
    """Where the noun phrase ending `text` starts: back over at most five words, stopping
    after a preposition, a verb or a comma."""
    words = list(re.finditer(r"[^\s,;:]+", text))
    start = len(text)
    for word in reversed(words[-5:]):
        low = word.group(0).lower()
        if text[word.end() : start].strip(" ") or low in _NOT_A_NOUN:
            break
        lemmas = getAllLemmas(low)
        if lemmas and "VERB" in lemmas and "NOUN" not in lemmas:
            break
        start = word.start()
    return start


# "Besides dairy, the Chapter 19 panels and the cultural exemption, Canada wants relief from
# the steel tariffs": what the opening phrase lists is not what the sentence is about.
_ASIDE = re.compile(
    r"^\W*(?:besides|beyond|apart from|aside from|other than|in addition to|along with)\b", re.I
)
# A later item of that list: a short phrase with no verb ("the cultural exemption").
_LIST_ITEM = re.compile(
    r"(?!.*\b(?:is|are|was|were|has|have|had|will|would|can|could|said|says)\b)\W*(?:\S+\s+){0,9}\S+",
    re.I,
)


def aside_span(sentence: str) -> tuple[int, int] | None:
    """The opening "Besides …," phrase of a sentence, if it has one: up to the first comma, or
    to the end of a list "A, B and C," it starts."""
    match = _ASIDE.match(sentence)
    if not match:
        return None
    commas = [i for i, ch in enumerate(sentence) if ch == "," and i > match.end()]
    if not commas:
        return None
    for previous, comma in pairwise(commas):
        item = sentence[previous + 1 : comma]
        if not _LIST_ITEM.fullmatch(item):
            break
        if re.search(r"\band\b", item):
            return match.start(), comma
    return match.start(), commas[0]
