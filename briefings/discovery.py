"""Proposing a library's negotiation issues from its articles.

An issue is a subject several articles come back to. Discovery (docs/BRIEFINGS.md has the
measurements behind each step), from the parses stored with the sentences at ingest:

1. **Candidate names.** Noun phrases (the head with the modifiers of its name), the shorter
   phrases ending in their head, a noun with what it is of ("rules of origin") and the names
   of things; never a person, party, place, outlet, date, amount or title, nor words for the
   negotiation itself ("talks", "deal", "negotiators"). A phrase mostly used as an actor
   ("diplomats said") or as the name of a meeting or of the deal is left out.
2. **Recurring and specific.** A phrase counts when at least `MIN_ARTICLES` articles use it; its
   score is its reach times how much more often the library uses its words than general
   English does (wordfreq), so "soybeans" outranks "week".
3. **Grouped.** Phrases that share their sentences, their words, one name's spellings, or
   their meaning in the library (the MiniLM vectors of their sentences) are one issue
   (agglomerative clustering, average link). The most specific recurring phrase names it; the
   group's other recurring phrases are its aliases.
4. **Ranked** by the summed score of the group's best phrases; phrases already naming a
   catalogue issue, or a proposal an admin dropped, are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np
from lemminflect import getAllLemmas
from rapidfuzz import fuzz
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from wordfreq import zipf_frequency

from briefings.catalogue import Issue, Party, name_key
from briefings.library_text import LibrarySentence
from briefings.parties import _in_frame
from retrieval.tokenize import tokenize

MIN_ARTICLES = 2  # a subject one article mentions is not recurring...
MIN_SENTENCES = 4  # ...unless that article keeps coming back to it
MIN_ARTICLE_SHARE = 0.05  # ...nor, in a large library, one that under 5% of articles mention
MAX_PROPOSALS = 12
MAX_ALIASES = 5
EXAMPLES = 3
GROUP_DISTANCE = 0.5  # average-link distance under which phrases are one issue (measured)
# Cosines of two phrases' sentence contexts (`_contexts`) from which they start to be one
# issue, and at which they surely are (fitted on the development sets, docs/BRIEFINGS.md).
CONTEXT_LOW = 0.45
CONTEXT_HIGH = 0.85
SPELLING_SIMILARITY = 85  # rapidfuzz ratio of two phrases' stems that spell one name
NAME_SPELLING = 75  # the same for two capitalised names ("Qaida", "Qaeda")
TITLE_REACH_SHARE = 0.3  # a title is used at least this much as the group's most used name
SPECIFICITY_FLOOR = 1.0  # log10 ratio library/English under which a phrase is everyday words
# A single word must be more particular to the library still: "program", "weapons",
# "exchange" are ten times commoner in nuclear news than in English, and no reader's issue.
SINGLE_WORD_FLOOR = 1.5
# The wire services whose names stand in sentences ("told Reuters"): no issue.
NEWS_AGENCIES = frozenset(
    """reuters afp ap bloomberg xinhua tass kyodo yonhap irna isna fars dpa ansa efe""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'’][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")
_GAP = re.compile(r"\s+")
# Words for the negotiation itself and the news about it rather than for what is negotiated:
# a phrase made only of these is no issue. Domain vocabulary, not any article's wording.
PROCESS_WORDS = frozenset(
    """trade deal deals talks talk negotiation negotiations negotiator negotiators negotiating
    agreement agreements pact pacts accord treaty round rounds meeting meetings summit summits
    minister ministers ministerial official officials government governments administration
    country countries nation nations side sides party parties member members leader leaders
    delegation delegations team teams counterpart counterparts president premier secretary
    representative spokesman spokeswoman spokesperson statement statements news report
    reports reporter reporters source sources interview conference press comment comments
    issue issues matter matters point points progress step steps plan plans time times day
    days week weeks month months year years today tomorrow yesterday morning evening night
    weekend people way ways part parts lot end start number percent economy economies economic
    relations relationship partner partners partnership world region regional global
    international bilateral multilateral framework text chapter chapters term terms deadline
    truce war dispute disputes peace diplomacy standoff deadlock stalemate impasse
    breakthrough setback mistake allies ally tension tensions friction frictions conflict
    effort efforts
    move moves sign signing ceremony approval process discussion discussions consultation
    consultations goods products imports exports increase commitment commitments bloc blocs
    signatories executive domestic procedures value worth total level levels liberalization
    liberalisation integration rules standards original
    """.split()
)
# Words that make a capitalised phrase the name of an organisation, office or agreement
# ("Trans-Pacific Partnership", "Commerce Ministry", "U.S. Trade Representative"); their
# initials make its acronym ("TPP", "USTR").
ORGANISATION_WORDS = frozenset(
    """partnership agreement association ministry department office cooperation council
    organization organisation forum commission bank institute committee union network house
    representative president premier minister secretary adviser advisor ambassador chamber
    federation""".split()
)
# Title words: a phrase holding one names a person or an office, not an issue.
TITLE_WORDS = frozenset(
    """president premier minister secretary representative adviser advisor ambassador
    spokesman spokeswoman spokesperson chancellor governor senator chairman chairwoman envoy
    commissioner counselor vice deputy chief""".split()
)
_CALENDAR = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december jan feb mar apr jun jul aug sep
    sept oct nov dec""".split()
)
_NUMBERS = frozenset("hundred thousand million billion trillion percent cent".split())
_STOP = (
    frozenset(ENGLISH_STOP_WORDS)
    | _CALENDAR
    | _NUMBERS
    | {"said", "says", "mr", "ms", "mrs", "dr", "according", "including"}
)


@dataclass(frozen=True)
class Example:
    text: str
    article_id: str
    passage_id: str
    date: str | None


@dataclass(frozen=True)
class Proposal:
    """A proposed issue: what discovery would add to the catalogue if an admin accepts it."""

    id: str  # slug, also the key an admin's "drop" remembers
    title: str
    aliases: tuple[str, ...]
    keywords: tuple[str, ...]  # every phrase of the group (what matching looks for)
    article_count: int
    score: float
    examples: tuple[Example, ...]

    def description(self, title: str | None = None) -> str:
        """A neutral line for the issue (also what its sentences are recognised by)."""
        names = [n for n in (self.title.lower(), *self.aliases[:3]) if n != (title or "").lower()]
        return f"{title or self.title}: what the articles say about {', '.join(names)}."

    def as_issue(self, *, title: str | None = None, parties: tuple[str, ...] = ()) -> Issue:
        names = (self.title, *self.aliases) if title else self.aliases
        aliases = tuple(a for a in names if name_key(a) != name_key(title or self.title))
        return Issue(
            id=self.id,
            title=title or self.title,
            aliases=aliases or (self.title.lower(),),
            description=self.description(title),
            parties=parties,
            keywords=tuple(k for k in self.keywords if k not in aliases),
        )


@dataclass
class _Phrase:
    key: str  # stemmed
    sentences: set[int]
    forms: Counter[str]
    articles: set[str]
    words: tuple[str, ...]  # lower-case words of the commonest form
    score: float = 0.0
    acting: int = 0  # uses as the subject of a verb of saying or of a stance: an actor
    naming: int = 0  # uses before a word for the talks: "the G20 summit", "the phase one deal"
    uses: int = 0

    @property
    def form(self) -> str:
        """The commonest spelling, lower-cased unless the articles capitalise it mid-sentence
        ("Huawei", "ISDS")."""
        form = self.forms.most_common(1)[0][0]
        return (
            form
            if any(w[:1].isupper() for w in form.split()[1:]) or form.isupper()
            else (form if form[:1].isupper() and self._always_capitalised() else form.lower())
        )

    def _always_capitalised(self) -> bool:
        return all(f[:1].isupper() for f in self.forms)


@lru_cache(maxsize=50_000)
def _noun_like(word: str) -> tuple[bool, bool]:
    """(can be a noun or a name, is only a verb or adverb) for one lower-case word."""
    lemmas = getAllLemmas(word)
    if not lemmas:
        return True, False  # unknown to the lexicon: a name or an acronym ("Huawei", "ISDS")
    noun = "NOUN" in lemmas or "PROPN" in lemmas
    verb_only = not noun and "ADJ" not in lemmas
    return noun, verb_only


def _names_to_skip(parties: Mapping[str, Party]) -> set[str]:
    """Lower-case words of every party name, alias and official: they name who negotiates."""
    words: set[str] = set()
    for party in parties.values():
        for name in (party.name, *party.aliases, *party.people):
            words.update(w.lower().strip(".") for w in re.findall(r"[\w.'’-]+", name))
            words.add(name.lower())
    return words


# Entity labels whose words name no issue: people, dates, amounts, places and peoples.
_NO_ISSUE_LABELS = frozenset(
    """PERSON DATE TIME MONEY PERCENT QUANTITY CARDINAL ORDINAL GPE NORP LOC FAC""".split()
)
# Prepositions that join a noun to what it is of: "rules of origin", "reduction in violence",
# "entry into force".
_JOINING = frozenset("of in into for on against over".split())
# Verbs whose subject is someone, not something: "diplomats said", "world powers agreed".
_ACTING = frozenset(
    """say tell add warn insist argue agree want seek refuse reject demand urge vow promise
    threaten accuse call meet negotiate announce fear believe hope expect plan try""".split()
)
ACTOR_SHARE = 0.15  # of a word's uses as such a subject above which it names an actor
NAMING_SHARE = 0.5  # of a phrase's uses naming talks ("the G20 summit") above which it is a name
_LEADING = frozenset(("DET", "PRON", "NUM", "PUNCT", "SYM", "PART", "CCONJ", "ADP", "ADV", "X"))


def _phrases(
    sentences: list[LibrarySentence], skip: set[str]
) -> tuple[dict[str, _Phrase], Counter[str]]:
    """The candidate names of issues in each sentence, read from its parse: its noun phrases
    and the shorter phrases ending in their head ("the new U.S. tariffs on steel" gives
    "tariffs", "new tariffs"), a noun with what it is of ("rules of origin"), and the names of
    things (laws, organisations, products) that are neither a party nor a person."""
    phrases: dict[str, _Phrase] = {}
    word_counts: Counter[str] = Counter()
    acronyms = _organisation_acronyms(sentences)
    agreement_words = _agreement_words(sentences)
    people = _person_words(sentences)
    for number, sentence in enumerate(sentences):
        parse = sentence.parse
        if parse is None:
            continue
        word_counts.update(parse.word(i).lower() for i in range(len(parse)))
        banned = _banned_tokens(parse, skip, people)
        for tokens in _candidates(parse, banned):
            words = [parse.word(i) for i in tokens]
            low = [w.lower() for w in words]
            if not _acceptable(low, words, acronyms, agreement_words):
                continue
            key = " ".join(tokenize(" ".join(words)))
            if not key:
                continue
            phrase = phrases.get(key)
            if phrase is None:
                phrase = phrases[key] = _Phrase(key, set(), Counter(), set(), tuple(low))
            phrase.sentences.add(number)
            phrase.forms[_join(parse, tokens)] += 1
            phrase.articles.add(sentence.article_id)
            phrase.uses += 1
            head = tokens[-1]
            if (
                parse.deps[head] in ("nsubj", "nsubjpass")
                and parse.lemmas[parse.heads[head]].lower() in _ACTING
            ) or _in_frame(parse, head):
                phrase.acting += 1  # "diplomats said", "talks with world powers"
            over = parse.heads[head]
            if (
                parse.deps[head] in ("compound", "nmod", "npadvmod")
                and over != head
                and parse.word(over).lower() in PROCESS_WORDS
            ):
                phrase.naming += 1
    return phrases, word_counts


def _join(parse, tokens: list[int]) -> str:
    """The words of `tokens` as written, with the spaces the sentence has between them."""
    out = parse.word(tokens[0])
    for a, b in pairwise(tokens):
        gap = parse.text[parse.ends[a] : parse.starts[b]]
        out += (" " if gap else "") + parse.word(b) if b == a + 1 else " " + parse.word(b)
    return out


def _person_words(sentences: list[LibrarySentence]) -> set[str]:
    """Capitalised words the library uses in people's names ("Kudlow", "Liu")."""
    words: set[str] = set()
    for sentence in sentences:
        parse = sentence.parse
        if parse is None:
            continue
        for start, end, label in parse.ents:
            if label == "PERSON":
                words.update(
                    parse.word(i) for i in range(start, end) if parse.word(i)[:1].isupper()
                )
    return words


def _banned_tokens(parse, skip: set[str], people: set[str]) -> set[int]:
    """Tokens no issue's name may hold: people, parties, dates, amounts, places, outlets."""
    banned: set[int] = set()
    for start, end, label in parse.ents:
        if label in _NO_ISSUE_LABELS:
            banned.update(range(start, end))
    for i in range(len(parse)):
        word = parse.word(i)
        low = word.lower()
        if (
            low in skip
            or low in NEWS_AGENCIES
            or low.strip("’'s") in skip
            or low in TITLE_WORDS
            or (word[:1].isupper() and word in people)
        ):
            banned.add(i)
    return banned


def _core(parse, head: int, banned: set[int], limit: int = 3) -> list[int]:
    """The head noun with the modifiers right before it that belong to its name: compounds
    and adjectives ("intellectual property", "low-enriched uranium"), at most `limit` words."""
    tokens = [head]
    words = 1
    i = head - 1
    while i >= 0 and words < limit:
        if parse.word(i) == "-" and i > 0 and tokens[0] == i + 1:
            tokens.insert(0, i)  # "dispute-settlement panels"
            i -= 1
            continue
        if (
            i in banned
            or parse.deps[i] not in ("compound", "amod", "nmod")
            or parse.pos[i] not in ("NOUN", "PROPN", "ADJ", "VERB")
            or not head >= parse.heads[i] > i
        ):
            break
        tokens.insert(0, i)
        words += 1
        i -= 1
    while tokens and parse.word(tokens[0]) == "-":
        tokens.pop(0)
    return tokens


def _candidates(parse, banned: set[int]) -> Iterator[list[int]]:
    """Token lists that could name an issue, from one parsed sentence."""
    seen: set[tuple[int, ...]] = set()

    def emit(tokens: list[int]) -> Iterator[list[int]]:
        key = tuple(tokens)
        if tokens and key not in seen and not any(t in banned for t in tokens):
            seen.add(key)
            yield tokens

    heads = set()
    for start, end in parse.chunks:
        head = next(
            (
                i
                for i in range(end - 1, start - 1, -1)
                if not start <= parse.heads[i] < end or parse.heads[i] == i
            ),
            end - 1,
        )
        if parse.pos[head] not in ("NOUN", "PROPN") or head in banned:
            continue
        heads.add(head)
        core = _core(parse, head, banned)
        # Every phrase ending in the head, from the head alone to its whole core.
        for k in range(1, len(core) + 1):
            yield from emit(core[-k:])
    # A noun and what it is of: "rules of origin", "reduction in violence".
    for head in heads:
        for prep in parse.children[head]:
            if parse.deps[prep] != "prep" or parse.lemmas[prep].lower() not in _JOINING:
                continue
            obj = next((k for k in parse.children[prep] if parse.deps[k] == "pobj"), None)
            if obj is None or parse.pos[obj] not in ("NOUN", "PROPN") or obj in banned:
                continue
            left = _core(parse, head, banned, limit=2)
            right = _core(parse, obj, banned, limit=2)
            if len(left) + len(right) <= 4:
                yield from emit([*left, prep, *right])
    # Names of things: "Huawei", "Section 301", "the Paris Agreement".
    for start, end, label in parse.ents:
        if label in _NO_ISSUE_LABELS:
            continue
        tokens = [
            i
            for i in range(start, end)
            if parse.pos[i] not in ("DET", "PART", "PUNCT")
            or (parse.word(i) == "-" and start < i < end - 1)
        ]
        if tokens and parse.word(tokens[-1]).lower() in ORGANISATION_WORDS:
            continue  # "the American Soybean Association": who, not what
        if tokens and len(tokens) <= 4:
            yield from emit(tokens)


def _acceptable(low: list[str], words: list[str], acronyms: set[str], agreement: set[str]) -> bool:
    """Could these words name an issue (rather than the negotiation, a title, a date)?"""
    content = [w for w in low if w not in _STOP and w not in _JOINING]
    if not content or low[0] in _STOP or low[-1] in _STOP or not low[0][:1].isalpha():
        return False
    if any(len(w) == 1 and w.isalpha() for w in low):
        return False  # "R-KY": a senator's party and state
    noun, _ = _noun_like(low[-1])
    if not noun or any(_noun_like(w)[1] for w in content):
        return False  # "escalates", "reach": verbs
    if any(w in TITLE_WORDS for w in low):
        return False
    if any(w in acronyms for w in words):
        return False  # an organisation's or agreement's acronym: "TPP", "USTR"
    if any(part in agreement for w in low for part in re.split(r"[-–]", w)):
        return False  # a word of the agreement's name: "Pacific" of "Trans-Pacific"
    if all(w in PROCESS_WORDS or w in _STOP or w in _JOINING for w in low):
        return False
    if len(low) == 1 and len(low[0]) < 3:
        return False
    # A phrase headed by a word for the negotiation names it, not an issue of it ("the phase
    # one deal", "peace talks", "the Geneva talks").
    head = low[: low.index("of")][-1] if "of" in low[1:] else low[-1]
    return not (head in PROCESS_WORDS and low[-1] == head)


_CAPITALISED_RUN = re.compile(
    r"(?:[A-Z][\w.'’]*(?:-[A-Z][\w'’]*)*)(?:\s+(?:(?:and|for|of|the)\s+)?[A-Z][\w.'’]*(?:-[A-Z][\w'’]*)*)+"
)


def _name_runs(text: str) -> list[tuple[int, int, str]]:
    """Spans and words of the multi-word capitalised names in `text` ("Pacific Rim", "Larry
    Kudlow"), without a capitalised sentence opener ("The ISDS provisions" is no name)."""
    runs = []
    for match in _CAPITALISED_RUN.finditer(text):
        start, words = match.start(), match.group(0).split()
        while words and words[0].lower() in _STOP:
            start += len(words[0]) + 1
            words = words[1:]
        while len(words) >= 2 and words[-1].lower() in _STOP:
            words = words[:-1]
        if len(words) >= 2:
            name = " ".join(words)
            runs.append((start, start + len(name), name))
    return runs


def _organisation_acronyms(sentences: list[LibrarySentence]) -> set[str]:
    """Acronyms of the organisations and agreements the library names in full: capital
    letters that are, in order, initials of a capitalised name with an organisation word
    ("CPTPP" in "Comprehensive and Progressive Agreement for Trans-Pacific Partnership")."""
    names = set()
    for sentence in sentences:
        for match in _CAPITALISED_RUN.finditer(sentence.text):
            words = re.split(r"[\s-]+", match.group(0))
            if any(w.lower().strip(".") in ORGANISATION_WORDS for w in words):
                initials = "".join(w[0] for w in words if w[:1].isupper())
                names.add(initials.replace(".", ""))
    found = set()
    for sentence in sentences:
        for token in re.findall(r"\b[A-Z]{2,}\b", sentence.text):
            if any(_subsequence(token, initials) for initials in names):
                found.add(token)
    return found


_AGREEMENT = frozenset("partnership agreement pact treaty accord cooperation".split())


def _agreement_words(sentences: list[LibrarySentence]) -> set[str]:
    """Lower-case words (hyphenated parts too) of the agreements the library names in full:
    "Trans-Pacific Partnership" makes "pacific" a word of the pact's name, not an issue."""
    words: set[str] = set()
    for sentence in sentences:
        for match in _CAPITALISED_RUN.finditer(sentence.text):
            parts = [w.lower() for w in re.split(r"[\s-]+", match.group(0))]
            if any(p in _AGREEMENT for p in parts):
                words.update(p for p in parts if p not in _STOP and p not in _AGREEMENT)
    return words


def _subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return len(short) >= 2 and all(c in letters for c in short)


def _specificity(phrase: _Phrase, word_counts: Counter[str], total: int) -> float:
    """log10 of how much more often the library uses the phrase's rarest-in-English content
    word than general English does."""
    best = -math.inf
    for word in phrase.words:
        if word in _STOP or word in PROCESS_WORDS:
            continue
        library = word_counts[word] / total
        english = 10 ** (zipf_frequency(word, "en") - 9) or 1e-9
        best = max(best, math.log10(library / english))
    return best


def _group(phrases: list[_Phrase], contexts: np.ndarray | None = None) -> list[list[_Phrase]]:
    """Phrases that share most of their sentences, a word, or their meaning as one issue.
    Meaning is the MiniLM vectors of the sentences that use each phrase (their mean, less the
    library's): "reactor" and "plutonium", "centrifuges" and "Natanz" are said in sentences
    alike; the bare phrases' own vectors are too flat to tell ("enrichment"–"centrifuges"
    0.21)."""
    if len(phrases) < 2:
        return [phrases] if phrases else []
    n = len(phrases)
    distance = np.ones((n, n))
    stems = [set(p.key.split()) for p in phrases]
    meaning = (
        np.clip((contexts @ contexts.T - CONTEXT_LOW) / (CONTEXT_HIGH - CONTEXT_LOW), 0.0, 1.0)
        if contexts is not None
        else np.zeros((n, n))
    )
    for i in range(n):
        distance[i, i] = 0.0
        for j in range(i + 1, n):
            a, b = phrases[i].sentences, phrases[j].sentences
            overlap = len(a & b) / len(a | b)
            shared = len(stems[i] & stems[j]) / min(len(stems[i]), len(stems[j]))
            # One name spelt two ways: "al-Qaida", "al-Qaeda".
            ratio = fuzz.ratio(phrases[i].key, phrases[j].key)
            names = phrases[i].form[:1].isupper() and phrases[j].form[:1].isupper()
            spelt = float(
                min(len(phrases[i].key), len(phrases[j].key)) >= 5
                and (ratio >= SPELLING_SIMILARITY or (names and ratio >= NAME_SPELLING))
            )
            distance[i, j] = distance[j, i] = 1.0 - max(
                overlap, shared, spelt, float(meaning[i, j])
            )
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=GROUP_DISTANCE, criterion="distance")
    groups: dict[int, list[_Phrase]] = defaultdict(list)
    for phrase, label in zip(phrases, labels, strict=True):
        groups[int(label)].append(phrase)
    return list(groups.values())


def _title(group: list[_Phrase]) -> _Phrase:
    """The group's most specific recurring phrase: the longest of those used nearly as widely
    as its most used one ("troop withdrawal" over "troops"), the best scored among equals."""
    reach = {id(p): len(p.articles) + 0.25 * (len(p.sentences) - len(p.articles)) for p in group}
    top = max(reach.values())
    eligible = [
        p for p in group if reach[id(p)] >= TITLE_REACH_SHARE * top and len(p.articles) >= 2
    ]
    return max(eligible or group, key=lambda p: (len(p.words), p.score))


def _contexts(phrases: list[_Phrase], vectors: np.ndarray) -> np.ndarray:
    """Each phrase's meaning in this library: the mean vector of its sentences, less the
    library's mean, unit length."""
    centre = vectors.mean(axis=0)
    out = np.zeros((len(phrases), vectors.shape[1]), np.float32)
    for n, phrase in enumerate(phrases):
        v = vectors[sorted(phrase.sentences)].mean(axis=0) - centre
        norm = float(np.linalg.norm(v))
        out[n] = v / norm if norm else v
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "issue"


def propose_issues(
    sentences: list[LibrarySentence],
    parties: Mapping[str, Party],
    *,
    known: Iterable[Issue] = (),
    dismissed: Iterable[str] = (),
    outlets: Iterable[str] = (),
    limit: int = MAX_PROPOSALS,
    vectors: np.ndarray | None = None,
) -> list[Proposal]:
    """The issues the articles of `sentences` keep coming back to, best first. `outlets`
    (the articles' sources) are names, like the parties': "CNBC said" is no issue.
    `vectors`: the sentences' MiniLM vectors (one row each), to group phrases by meaning."""
    n_articles = len({s.article_id for s in sentences})
    if not sentences:
        return []
    least = max(MIN_ARTICLES, math.ceil(MIN_ARTICLE_SHARE * n_articles))
    if n_articles < MIN_ARTICLES:
        least = 1
    skip = _names_to_skip(parties)
    for outlet in outlets:
        skip.update(w.lower() for w in re.findall(r"[\w'’-]+", outlet) if w[:1].isupper())
    phrases, word_counts = _phrases(sentences, skip)
    total = sum(word_counts.values())
    kept = []
    for phrase in phrases.values():
        if len(phrase.articles) < least and len(phrase.sentences) < MIN_SENTENCES:
            continue
        specific = _specificity(phrase, word_counts, total)
        if specific < (SINGLE_WORD_FLOOR if len(phrase.words) == 1 else SPECIFICITY_FLOOR):
            continue
        if phrase.acting > ACTOR_SHARE * phrase.uses:
            continue  # "diplomats", "world powers": who negotiates, not what
        if phrase.naming > NAMING_SHARE * phrase.uses:
            continue  # "G20", "phase one": the name of a meeting or of the deal, not a subject
        # Articles count fully, further sentences a little: breadth over one story's length.
        reach = len(phrase.articles) + 0.25 * (len(phrase.sentences) - len(phrase.articles))
        phrase.score = reach * specific
        kept.append(phrase)
    # A phrase inside a longer one that carries nearly all its uses adds nothing of its own
    # ("intellectual" in "intellectual property").
    by_key = {p.key: p for p in kept}
    for phrase in kept:
        for longer in kept:
            if (
                longer is not phrase
                and f" {phrase.key} " in f" {longer.key} "
                and len(longer.sentences) >= 0.8 * len(phrase.sentences)
            ):
                by_key.pop(phrase.key, None)
                break
    candidates = sorted(by_key.values(), key=lambda p: -p.score)[: limit * 8]

    known_terms = {" ".join(tokenize(t)) for issue in known for t in (*issue.terms, issue.title)}
    known_terms.discard("")
    dismissed = set(dismissed)
    proposals: list[Proposal] = []
    contexts = _contexts(candidates, vectors) if vectors is not None and candidates else None
    groups = _group(candidates, contexts)
    for group in groups:
        group.sort(key=lambda p: (-p.score, -len(p.words)))
        if any(p.key in known_terms for p in group):
            continue
        named = _title(group)
        title = named.form
        slug = _slug(title)
        if slug in dismissed:
            continue
        members = set().union(*(p.sentences for p in group))
        articles = {sentences[i].article_id for i in members}
        examples = _examples(sentences, group)
        # Aliases: the group's other recurring names, never a phrase of one sentence.
        others = [p for p in group if p is not named and len(p.sentences) >= 2]
        aliases = tuple(p.form for p in others[:MAX_ALIASES])
        proposals.append(
            Proposal(
                id=slug,
                title=title[:1].upper() + title[1:],
                aliases=aliases,
                keywords=tuple(p.form for p in group),
                article_count=len(articles),
                score=round(sum(p.score for p in group[:3]), 2),
                examples=examples,
            )
        )
    proposals.sort(key=lambda p: (-p.score, p.id))
    return _fold_repeats(proposals)[:limit]


def _fold_repeats(proposals: list[Proposal]) -> list[Proposal]:
    """A proposal whose title is part of a better one's names, or holds one of them
    ("Application" after "Join: application to join"; "Dairy and poultry" after "Dairy"),
    is the same issue: its names become the better one's aliases."""
    kept: list[Proposal] = []
    for proposal in proposals:
        title = f" {' '.join(tokenize(proposal.title))} "
        home = None
        for i, better in enumerate(kept):
            names = [f" {' '.join(tokenize(n))} " for n in (better.title, *better.aliases)]
            if better.id == proposal.id or any(
                title in name or (name.strip() and name in title) for name in names
            ):
                home = i
                break
        if home is None:
            kept.append(proposal)
            continue
        better = kept[home]
        extra = [n for n in (proposal.title.lower(), *proposal.aliases) if n not in better.aliases]
        kept[home] = replace(
            better,
            aliases=tuple(dict.fromkeys((*better.aliases, *extra)))[: MAX_ALIASES + 3],
            keywords=tuple(dict.fromkeys((*better.keywords, *proposal.keywords))),
        )
    return kept


def _examples(sentences: list[LibrarySentence], group: list[_Phrase]) -> tuple[Example, ...]:
    """A few sentences naming the group's phrases, from different articles, newest first."""
    counted: Counter[int] = Counter()
    for phrase in group:
        counted.update(phrase.sentences)
    chosen: list[LibrarySentence] = []
    used: set[str] = set()
    order = sorted(counted, key=lambda i: (-counted[i], -(len(sentences[i].article_date or ""))))
    for i in order:
        s = sentences[i]
        if s.article_id in used or len(s.text) > 400:
            continue
        used.add(s.article_id)
        chosen.append(s)
        if len(chosen) == EXAMPLES:
            break
    chosen.sort(key=lambda s: s.article_date or "", reverse=True)
    return tuple(Example(s.text, s.article_id, s.passage_id, s.article_date) for s in chosen)
