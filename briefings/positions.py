"""Who wants what: stances in a sentence, attributed to a party and to the issue they concern.

Deliberately small and explicit, and measured (``python -m bench.briefings``, on labelled
sentences of real articles). A stance is held by whoever the sentence says holds it:

* a party named as the subject of a stance verb ("Canada wants to keep", "the U.S. had
  sought to eliminate", "Ottawa, for its part, has insisted", "Canada gave the same access");
* or, when the sentence reports what someone said ("Mnuchin said Sunday that ...",
  "“...,” Abe said", "said Prime Minister Boris Johnson"), the party of that official, with
  the official as speaker, unless what is reported names another party as the one acting:
  "the official said Canada gave ..." is the official's report about Canada.

A stance in a relative clause ("a pact that President Trump rejected") is about the noun the
clause hangs on (the pact), so it only counts for an issue named right there, and it comes
after the sentence's main stances. A sentence whose party can't be told gives no stance."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

from lemminflect import getAllLemmas

from briefings.catalogue import Party

# Verbs that state what a party wants, refuses or has conceded.
_STANCE_VERBS = (
    r"wants?|wanted|seek(?:s|ing)?|sought|insist(?:s|ed|ing)?|demand(?:s|ed|ing)?|"
    r"refus(?:e|es|ed|ing)|reject(?:s|ed|ing)?|oppos(?:e|es|ed|ing)|"
    r"(?:push|press)(?:es|ed|ing)?\s+for|call(?:s|ed)?\s+for|agree(?:s|d)?\s+to|accept(?:s|ed)?|"
    r"threaten(?:s|ed)?|vow(?:s|ed)?|promis(?:e|es|ed)|offer(?:s|ed)?|propos(?:e|es|ed)|"
    r"regard(?:s|ed)?\s+it\s+as|kept|keeps|preserv(?:e|es|ed)|conced(?:e|es|ed)|"
    r"signall?(?:s|ed)|argu(?:e|es|ed)|prefer(?:s|red)?|intend(?:s|ed)?|plan(?:s|ned)?\s+to|"
    r"aim(?:s|ed)?\s+to|won['’]t\s+(?:accept|agree|sign)|gave|give|gives|giving|grant(?:s|ed)?|"
    r"object(?:s|ed)?\s+to|welcom(?:e|es|ed)|back(?:s|ed)|support(?:s|ed)?|"
    r"appl(?:y|ies|ied)\s+(?:to|for)|sign(?:s|ed)?|withdr(?:ew|aw|aws|awn)|impos(?:e|es|ed)"
)
# A reported statement counts when what is said carries a modal ("... will stay").
_SAID_WITH_MODAL = (
    r"(?:said|says|told\s+\w+)(?:\s+again\s+and\s+again)?"
    r"(?=[^.;:]{0,80}?\b(?:will|would|won['’]t|wouldn['’]t|must|cannot|can['’]t|should)\b)"
)
_VERB = rf"(?P<verb>{_STANCE_VERBS}|{_SAID_WITH_MODAL})\b"
_AUX = (
    r"(?:(?:is|are|was|were|has|have|had|would|will|did|does|do|also|still|now|long|again|"
    r"once|repeatedly|firmly|formally|publicly|already|not|never|been|reportedly)\s+){0,3}"
)
# Words that may stand between a party and its verb: "U.S. negotiators want".
_ROLES = (
    r"negotiators?|officials?|government|administration|side|team|delegation|ministers?|office|"
    r"envoys?|president|secretary|economy|trade|representatives?|spokes(?:man|woman|person)"
)
_APPOSITION = r"(?:\s*,[^,;]{1,60},|\s*,)?"  # ", for its part," / ", Ildefonso Guajardo,"
_NOT_A_SUBJECT = re.compile(r"\b(?:if|should|unless|whether|of|than)\s+(?:the\s+)?$", re.I)
_COORDINATED = re.compile(rf"\band\s+{_AUX}{_VERB}", re.I)
# Where a stance's object ends: a new clause.
_BOUNDARY = re.compile(
    r"[;:]|\s[-–—]{1,2}\s|,\s*(?:and|but|while|whereas|although|though)\s+(?=[A-Z“\"‘']|the\s)|"
    r"\s(?:while|whereas|although)\s|,\s*(?:which|where)\b"
)
_TITLES = frozenset(
    """U.S. US President Prime Minister Foreign Affairs Trade Representative Secretary Economy
    Deputy Chief Negotiator Mr. Ms. Mrs. Dr. Sen. Senator Rep. White House Economic Adviser
    Commerce Finance Minister President-elect Canadian Mexican American Ambassador""".split()
)
_NAME = r"(?:(?:Mr|Ms|Mrs|Dr)\.\s+)?[A-ZÀ-Ý][\w'’.-]*(?:\s+(?:de\s+|del\s+)?[A-ZÀ-Ý][\w'’.-]*){0,4}"
_SAID_NAME = re.compile(rf"\b(?:said|says|told\s+\w+|according\s+to)\s+(?P<name>{_NAME})")
_NAME_SAID = re.compile(rf"(?P<name>{_NAME})(?:,[^,]{{1,80}},|,)?\s+(?:said|says|told)\b")
_PRONOUNS = frozenset("The He She It They We I This That A An Officials".split())
_PERSON_NAME = re.compile(r"[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’.-]+){1,3}")
# A report: who said it, then what. The reporter is the text before the verb back to a quote
# or the sentence start; what is reported runs to the end (or is the quote before it).
_REPORT_VERB = re.compile(
    r"\b(?:has\s+|had\s+|have\s+)?(?:said|says|told\s+[\w\s]{1,30}?|stated|added|"
    r"announced|warned|insisted|noted)\b"
)
# "“...,” Mnuchin said" / "“...,” said Mnuchin": a quotation, then (maybe) who said it.
_QUOTE_BEFORE = re.compile(
    r"^\W*[“\"](?P<quote>.+)[,.]?[”\"]\s*,?\s*(?P<who>[^“”\"]{0,100})$", re.S
)
_SAID_AFTER_QUOTE = re.compile(r"[”\"]\s*,?\s*(?:said|says)\s+(?P<who>[^,.;]{2,90})")
_ACCORDING = re.compile(r"\baccording\s+to\s+(?P<who>[^,.;]{2,90})")
# "that the U.S.", "that President Trump": titles may stand between the pronoun and the name.
_RELATIVE = re.compile(r"\b(?:that|which|whom|who)\s+(?:the\s+)?(?:[A-Z][\w.’'-]*\s+){0,3}$", re.I)
RELATIVE_ANTECEDENT_CHARS = 80  # how far before "that" a relative clause's noun is looked for


@dataclass(frozen=True)
class Report:
    """ "X said ...": the party and person of X, and where what was said is."""

    party: str | None
    speaker: str | None
    content: tuple[int, int]


@dataclass(frozen=True)
class Stance:
    party: str  # party id
    subject: str  # the words that name the party in the sentence
    verb: str
    start: int  # where the subject starts in the sentence
    verb_end: int
    speaker: str | None  # the named person who said it, when the sentence names one
    relative: bool = False  # in a relative clause: about the noun before "that"/"which"
    reported: tuple[int, int] | None = None  # a reported statement: what was said


@dataclass(frozen=True)
class Mention:
    """An issue term named in a sentence."""

    issue_id: str
    start: int
    end: int
    term: str = ""


class StanceReader:
    """Finds stances in sentences for one set of parties."""

    def __init__(self, parties: Mapping[str, Party]) -> None:
        self._party_of: dict[str, str] = {}
        self._people: set[str] = set()
        for party_id, party in parties.items():
            for alias in party.aliases:
                self._party_of[alias] = party_id
            for person in party.people:
                self._party_of[person] = party_id
                self._people.add(person)
        names = "|".join(re.escape(n) for n in sorted(self._party_of, key=len, reverse=True))
        self._subject = re.compile(
            rf"(?<![\w.])(?:the\s+)?(?P<subject>{names})(?![\w])(?:['’]s)?"
            rf"(?:\s+(?:{_ROLES})){{0,2}}{_APPOSITION}\s+{_AUX}{_VERB}"
        )
        self._names = re.compile(rf"(?<![\w.])(?:{names})(?![\w])")

    def stances(self, sentence: str) -> list[Stance]:
        """Every stance in `sentence`, in reading order."""
        found: list[Stance] = []
        reports = self.reports(sentence)
        for match in self._subject.finditer(sentence):
            before = sentence[max(0, match.start() - 12) : match.start()]
            if _NOT_A_SUBJECT.search(before):
                continue
            subject = match.group("subject")
            party = self._party_of[subject]
            if match.group("verb").startswith(("said", "says", "told")) and any(
                r.party == party and r.content[0] >= match.start() for r in reports
            ):
                continue  # "Mr. Trudeau has said ... will": the report below covers it
            speaker = self._speaker(sentence, subject, party)
            report = next(
                (r for r in reports if r.content[0] <= match.start() < r.content[1]), None
            )
            if report is not None and subject not in self._people:
                # What a report says a party does: the reporter speaks for it only if theirs.
                speaker = report.speaker if report.party == party else None
            found.append(
                Stance(
                    party=party,
                    subject=subject,
                    verb=match.group("verb"),
                    start=match.start(),
                    verb_end=match.end("verb"),
                    speaker=speaker,
                    relative=_in_relative_clause(sentence, match.start()),
                )
            )
        for report in reports:
            acting = [
                s
                for s in found
                if not s.relative and report.content[0] <= s.start < report.content[1]
            ]
            if report.party is None or acting:
                continue
            found.append(
                Stance(
                    party=report.party,
                    subject=report.speaker or self._party_name(report.party),
                    verb="said",
                    start=report.content[0],
                    verb_end=report.content[0],
                    speaker=report.speaker,
                    reported=report.content,
                )
            )
        if found:
            # "Canada kept the panels ... and preserved the carve-out": the verb shares the
            # sentence's first subject.
            first = found[0]
            taken = {s.verb_end for s in found}
            for match in _COORDINATED.finditer(sentence, first.verb_end):
                if match.end("verb") not in taken and not self._names.search(match.group(0)):
                    found.append(
                        Stance(
                            party=first.party,
                            subject=first.subject,
                            verb=match.group("verb"),
                            start=match.start(),
                            verb_end=match.end("verb"),
                            speaker=first.speaker,
                        )
                    )
            # Main-clause stances first: a relative clause's is about something else.
            found.sort(key=lambda s: (s.relative, s.start))
        return found

    def _party_name(self, party: str) -> str:
        return next((a for a, p in self._party_of.items() if p == party), party)

    def reports(self, sentence: str) -> list[Report]:
        """The statements the sentence attributes to someone of a party, with what they
        said: "X said (that) ...", "“...,” X said", "“...,” said X", "according to X"."""
        found: list[Report] = []
        for match in _REPORT_VERB.finditer(sentence):
            head = sentence[: match.start()]
            quote = _QUOTE_BEFORE.match(head)
            if quote:
                content = (quote.start("quote"), quote.end("quote"))
                who = quote.group("who")
                if not who.strip():  # "“...,” said Prime Minister Boris Johnson."
                    who = re.split(r"[,.;]", sentence[match.end() :], maxsplit=1)[0]
            else:
                cut = max(head.rfind(c) for c in '“”";:')
                who = head[cut + 1 :][-100:]
                content = (match.end(), len(sentence))
                if not who.strip() and head.rstrip().endswith(("”", '"')):
                    continue
            after_quote = _SAID_AFTER_QUOTE.search(sentence[max(0, match.start() - 3) :])
            if after_quote and not who.strip():
                who = after_quote.group("who")
            party, speaker = self._reporter(who)
            if party is not None:
                found.append(Report(party, speaker, content))
        for match in _ACCORDING.finditer(sentence):
            party, speaker = self._reporter(match.group("who"))
            if party is not None:
                found.append(Report(party, speaker, (0, match.start())))
        return found

    def _reporter(self, who: str) -> tuple[str | None, str | None]:
        """The party and person a reporter phrase names: the official nearest the verb, else
        the party nearest it."""
        best: tuple[str, str | None] | None = None
        for match in self._names.finditer(who):
            name = match.group(0)
            if name in self._people:
                best = (self._party_of[name], self._full_name(who, name))
            elif best is None or best[1] is None:
                best = (self._party_of[name], None)
        if best is None:
            return None, None
        if best[1] is None:
            # "A Mexican negotiator, Elena Ortiz, said": a person named beside the party.
            for match in reversed(list(_PERSON_NAME.finditer(who))):
                name = _strip_titles(match.group(0))
                words = name.split()
                if len(words) < 2 or words[0] in _PRONOUNS or self._names.search(name):
                    continue
                if any(w.lower() in _ORGANISATION or w.lower() in _TITLE_HEADS for w in words):
                    continue
                return best[0], name
        return best

    def _speaker(self, sentence: str, subject: str, party: str) -> str | None:
        """The named person behind a stance: the subject itself when it is a person, else the
        person the sentence attributes a statement to (if not from another party)."""
        if subject in self._people:
            return self._full_name(sentence, subject)
        for pattern in (_SAID_NAME, _NAME_SAID):
            for match in pattern.finditer(sentence):
                name = _strip_titles(match.group("name"))
                if not name or name.split()[0] in _PRONOUNS or name in self._party_of:
                    continue
                if any(w in self._party_of and w not in self._people for w in name.split()):
                    continue  # "Dairy Farmers of Canada" is an organisation, not a person
                if any(w.lower() in _ORGANISATION for w in name.split()):
                    continue  # "the official Central News Agency said"
                owner = next((self._party_of[p] for p in self._people if name.endswith(p)), party)
                if owner == party:
                    return name
        return None

    @staticmethod
    def _full_name(sentence: str, surname: str) -> str:
        match = re.search(rf"((?:[A-ZÀ-Ý][\w'’.-]*\s+){{0,4}}){re.escape(surname)}\b", sentence)
        return _strip_titles(match.group(0)) if match else surname


_ORGANISATION = frozenset(
    """agency news ministry department office council association federation institute
    commission committee bank house press times post journal daily""".split()
)
_TITLE_HEADS = frozenset(
    """President Premier Minister Secretary Representative Ambassador Chancellor Adviser
    Advisor Negotiator Spokesman Spokeswoman Spokesperson Chairman Governor Envoy
    Commissioner Senator""".lower().split()
)


_WORD_BEFORE = re.compile(r"(?:^|\s)([a-z][a-z'’-]*)\s+(?:(?:the|a|an)\s+)?$")
_NOT_A_NOUN = frozenset(
    """and or but nor so yet if as than that which who where when while since because
    said says told on in at of for from with by to into about after before over under
    between during without against""".split()
)


def _in_relative_clause(sentence: str, start: int) -> bool:
    """Does the subject at `start` open a relative clause: "a pact that President Trump
    rejected", or without "that": "the tariffs Washington imposed", "a mechanism the U.S.
    had sought to eliminate"."""
    before = sentence[max(0, start - 40) : start]
    if _RELATIVE.search(before):
        return True
    word = _WORD_BEFORE.search(before)
    if not word or word.group(1) in _NOT_A_NOUN:
        return False
    lemmas = getAllLemmas(word.group(1))
    return "NOUN" in lemmas and "VERB" not in lemmas


def _strip_titles(name: str) -> str:
    """The person's name without the titles before it ("Trade and Export Growth Minister
    David Parker" -> "David Parker")."""
    words = name.split()
    heads = [i for i, w in enumerate(words[:-1]) if w.lower().strip(".,") in _TITLE_HEADS]
    if heads:
        words = words[heads[-1] + 1 :]
    while words and (words[0] in _TITLES or words[0].rstrip(".") in _TITLES):
        words.pop(0)
    return " ".join(words)


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
