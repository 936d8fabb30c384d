"""Proposing a library's negotiation issues from its articles.

An issue is a subject several articles come back to. Discovery (docs/BRIEFINGS.md has the
measurements behind each step):

1. **Key phrases.** Every run of one to three words in a sentence that could be a noun phrase
   (lemminflect: the last word can be a noun, no word is only a verb; no stop word at either
   end), that is no party's or official's name, and that names something other than the
   negotiation itself ("talks", "deal", "negotiators").
2. **Recurring and specific.** A phrase counts when at least `MIN_ARTICLES` articles use it; its
   score is the number of articles times how much more often the library uses its words than
   general English does (wordfreq), so "soybeans" outranks "week".
3. **Grouped.** Phrases that share their sentences (Jaccard of sentence sets) or their words
   ("intellectual property" / "property") are one issue (agglomerative clustering, average
   link). The best-scored phrase names it, the others are its aliases.
4. **Ranked** by the articles the group reaches; phrases already naming a catalogue issue, or a
   proposal an admin dropped, are left out.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from lemminflect import getAllLemmas
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from wordfreq import zipf_frequency

from briefings.catalogue import Issue, Party, name_key
from briefings.library_text import LibrarySentence
from retrieval.tokenize import tokenize

MIN_ARTICLES = 2  # a subject one article mentions is not recurring...
MIN_SENTENCES = 4  # ...unless that article keeps coming back to it
MIN_ARTICLE_SHARE = 0.05  # ...nor, in a large library, one that under 5% of articles mention
MAX_PROPOSALS = 12
MAX_ALIASES = 5
EXAMPLES = 3
GROUP_DISTANCE = 0.5  # average-link distance under which phrases are one issue (measured)
SPECIFICITY_FLOOR = 1.0  # log10 ratio library/English under which a phrase is everyday words

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
    truce war dispute disputes tension tensions friction frictions conflict effort efforts
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


def _phrases(
    sentences: list[LibrarySentence], skip: set[str]
) -> tuple[dict[str, _Phrase], Counter[str]]:
    phrases: dict[str, _Phrase] = {}
    word_counts: Counter[str] = Counter()
    acronyms = _organisation_acronyms(sentences)
    agreement_words = _agreement_words(sentences)
    surnames = {
        name.split()[-1]
        for s in sentences
        for _start, _end, name in _name_runs(s.text)
        if " of " not in name and " for " not in name
    }
    for number, sentence in enumerate(sentences):
        text = sentence.text
        names = [(start, end) for start, end, _name in _name_runs(text)]
        tokens = list(_WORD.finditer(text))
        word_counts.update(t.group(0).lower() for t in tokens)
        for a in range(len(tokens)):
            for size in (1, 2, 3):
                b = a + size
                if b > len(tokens):
                    break
                span = tokens[a:b]
                if size > 1 and not _GAP.fullmatch(text[span[-2].end() : span[-1].start()]):
                    break  # punctuation between words ends a phrase
                words = [t.group(0) for t in span]
                low = [w.lower() for w in words]
                if low[0] in _STOP or low[-1] in _STOP or low[0][0].isdigit():
                    continue
                if low[-1].endswith(("'s", "’s")):
                    continue  # "the world's": it qualifies what follows
                if any(w in skip or w.strip("’'s") in skip or w in TITLE_WORDS for w in low):
                    continue
                if any(lo < span[-1].end() and span[0].start() < hi for lo, hi in names):
                    continue  # part of a name: "Pacific Rim", "White House", "Larry Kudlow"
                if size == 1 and words[0] in surnames and a > 0:
                    continue  # "Kudlow", after "Larry Kudlow" elsewhere
                if any(w in acronyms for w in words):
                    continue  # an organisation's or agreement's acronym: "TPP", "USTR"
                if any(part in agreement_words for w in low for part in w.split("-")):
                    continue  # a word of the agreement's name: "Pacific" of "Trans-Pacific"
                if all(w in PROCESS_WORDS or w in _STOP for w in low):
                    continue
                if size == 1 and len(low[0]) < 3:
                    continue
                noun, _ = _noun_like(low[-1])
                if not noun or any(_noun_like(w)[1] for w in low if w not in _STOP):
                    continue
                key = " ".join(tokenize(" ".join(words)))
                if not key:
                    continue
                phrase = phrases.get(key)
                if phrase is None:
                    phrase = phrases[key] = _Phrase(key, set(), Counter(), set(), tuple(low))
                phrase.sentences.add(number)
                phrase.forms[" ".join(words)] += 1
                phrase.articles.add(sentence.article_id)
    return phrases, word_counts


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


def _group(phrases: list[_Phrase]) -> list[list[_Phrase]]:
    """Phrases that share most of their sentences, or a word, as one issue."""
    if len(phrases) < 2:
        return [phrases] if phrases else []
    n = len(phrases)
    distance = np.ones((n, n))
    stems = [set(p.key.split()) for p in phrases]
    for i in range(n):
        distance[i, i] = 0.0
        for j in range(i + 1, n):
            a, b = phrases[i].sentences, phrases[j].sentences
            overlap = len(a & b) / len(a | b)
            shared = len(stems[i] & stems[j]) / min(len(stems[i]), len(stems[j]))
            distance[i, j] = distance[j, i] = 1.0 - max(overlap, shared)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=GROUP_DISTANCE, criterion="distance")
    groups: dict[int, list[_Phrase]] = defaultdict(list)
    for phrase, label in zip(phrases, labels, strict=True):
        groups[int(label)].append(phrase)
    return list(groups.values())


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
) -> list[Proposal]:
    """The issues the articles of `sentences` keep coming back to, best first. `outlets`
    (the articles' sources) are names, like the parties': "CNBC said" is no issue."""
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
        if specific < SPECIFICITY_FLOOR:
            continue
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
    for group in _group(candidates):
        group.sort(key=lambda p: (-p.score, -len(p.words)))
        if any(p.key in known_terms for p in group):
            continue
        title = group[0].form
        slug = _slug(title)
        if slug in dismissed:
            continue
        members = set().union(*(p.sentences for p in group))
        articles = {sentences[i].article_id for i in members}
        examples = _examples(sentences, group)
        aliases = tuple(p.form for p in group[1 : 1 + MAX_ALIASES])
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
