"""Briefings for an engine's current index, computed once per (index build, catalogue).

Thread-safe: the bot serves briefings from worker threads while an ingest swaps in a new index;
a request sees one build throughout, and the first request on a new build does the scan."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from briefings.briefing import (
    CURATED,
    ON_DEMAND,
    PROPOSED,
    Briefing,
    IssueStatus,
    IssueUpdate,
    compose_briefing,
    new_developments,
)
from briefings.catalogue import (
    SUGGESTION_CUTOFF,
    Catalogue,
    Issue,
    catalogue_paths,
    load_catalogue,
    name_key,
)
from briefings.discovery import Proposal, propose_issues
from briefings.library_text import LibrarySentence, library_sentences, sentence_matrix
from briefings.matching import IssueMatcher, IssueSentence, issue_text
from briefings.on_demand import ON_DEMAND_ID, clean_topic, topic_issue
from briefings.parties import LibraryParse, find_parties
from briefings.store import IssueStore
from retrieval.encoder import Encoder
from retrieval.records import ArticleInfo
from retrieval.tokenize import tokenize
from tradetalk.errors import UnknownIssue

if TYPE_CHECKING:
    from retrieval.index import PassageIndex
    from tradetalk.engine import Engine

log = logging.getLogger(__name__)
VECTOR_CACHE_DIR = "briefings"  # under the data dir: issue vectors, so a CLI run needs no model
ON_DEMAND_CACHE = 64  # on-demand briefings kept per index build


@dataclass
class _Scan:
    """Everything computed for one (index build, catalogue) pair."""

    key: tuple[str, str]
    catalogue: Catalogue  # with the parties found in the articles
    matcher: IssueMatcher
    sentences: dict[str, list[IssueSentence]]
    articles: dict[str, str]  # article id -> content hash, of the build scanned
    model_id: str
    library: list[LibrarySentence]
    briefings: dict[str, Briefing] = field(default_factory=dict)
    proposals: list[Proposal] | None = None
    # Briefings built on demand (topics typed), the most recently asked last.
    on_demand: OrderedDict[str, Briefing] = field(default_factory=OrderedDict)


@dataclass(frozen=True)
class WhatsNew:
    updates: tuple[IssueUpdate, ...]  # issues with new developments, in catalogue order
    articles: Mapping[str, str]  # article id -> content hash compared: the next `before`


class IssueBriefings:
    """The briefings of one engine. Reads the catalogue again when its files change."""

    def __init__(self, engine: Engine, *, data_dir: Path | None = None) -> None:
        self.engine = engine
        self.data_dir = data_dir if data_dir is not None else engine.settings.data_dir
        self._lock = threading.Lock()  # held while a scan or a briefing is computed
        self._catalogue_lock = threading.Lock()
        self._catalogue: Catalogue | None = None
        self._catalogue_stamp: tuple | None = None
        self._scan: _Scan | None = None
        self._bundled: tuple[str, bool] | None = None  # (index version, holds the bundled corpus)
        self._warming: threading.Thread | None = None  # works out proposals for autocomplete

    # -- catalogue -------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        """The current catalogue (packaged + data dir override; the packaged NAFTA issues and
        parties only where the bundled corpus is part of the library). Raises
        `CatalogueError`."""
        bundled = self._holds_bundled()
        with self._catalogue_lock:
            stamp = (_stamp(catalogue_paths(self.data_dir)), bundled)
            if self._catalogue is None or stamp != self._catalogue_stamp:
                self._catalogue = load_catalogue(self.data_dir, with_packaged=bundled)
                self._catalogue_stamp = stamp
            return self._catalogue

    def _holds_bundled(self) -> bool:
        """Is the bundled corpus part of this library (once per index build)?"""
        with self.engine.leased() as index:
            version = index.version
            if self._bundled is None or self._bundled[0] != version:
                self._bundled = (version, any(a.bundled for a in index.articles.values()))
            return self._bundled[1]

    def resolve(self, topic: str) -> Issue:
        """The issue `topic` names; raises `UnknownIssue` with suggestions."""
        return self.catalogue().resolve(topic)

    def briefable(self, topic: str) -> bool:
        """Could `topic` get a briefing, as far as the catalogue and the typed words tell
        (no index scan)? An issue's name, or any text with a subject in it; whether an article
        discusses that subject takes `briefing`'s scan."""
        try:
            self.catalogue().resolve(topic)
        except UnknownIssue:
            return self._worded_in_library(topic)
        return True

    def _worded_in_library(self, topic: str) -> bool:
        """Does an article use a word of `topic` (read as `topic_issue` reads it)? A topic
        none of whose words any article uses ("dairu") is discussed by none: the meaning
        alone of a word the articles never use would find sentences about something else."""
        title = clean_topic(topic)
        words = tokenize(title) if title else []
        with self.engine.leased() as index:
            return any(index.document_frequency(w) for w in words)

    def similar(self, topic: str) -> list[Issue]:
        """The issues, then the proposals worked out so far, whose names are near `topic`
        (for "did you mean …")."""
        issues = self.catalogue().similar(topic)
        shown = {i.id for i in issues}
        extra = _similar_proposals(self._proposals_if_ready(), topic)
        return issues + [p.as_issue() for p in extra if p.id not in shown]

    def suggest(self, text: str, limit: int = 25) -> list[Issue]:
        """Autocomplete choices for a partly typed topic: the library's issues, then the
        issues discovery proposes (as issues; their briefings say they are proposals). The
        proposals join once they are worked out, which a first request starts in the
        background (autocomplete must answer within Discord's three seconds)."""
        issues = self.catalogue().suggest(text, limit)
        proposals = self._proposals_if_ready()
        if not proposals:
            return issues
        key = name_key(text)
        shown = {name_key(i.title) for i in issues}
        starts, contains = [], []
        for proposal in proposals:
            keys = [name_key(n) for n in (proposal.id, proposal.title, *proposal.aliases)]
            if name_key(proposal.title) in shown:
                continue
            if not key or any(k.startswith(key) for k in keys):
                starts.append(proposal)
            elif any(key in k for k in keys):
                contains.append(proposal)
        extra = (
            starts
            + contains
            + [p for p in _similar_proposals(proposals, text) if p not in starts + contains]
        )
        return (issues + [p.as_issue() for p in extra])[:limit]

    def _proposals_if_ready(self) -> list[Proposal]:
        """The proposals when they are worked out for the current build; else none, and
        working them out starts in a background thread (once at a time)."""
        scan = self._scan
        if scan is not None and scan.proposals is not None:
            with self.engine.leased() as index:
                if scan.key[0] == index.version:
                    return scan.proposals
        with self._catalogue_lock:
            if self._warming is not None and self._warming.is_alive():
                return []
            self._warming = threading.Thread(
                target=self._warm, name="tradetalk-proposals", daemon=True
            )
            self._warming.start()
        return []

    def _warm(self) -> None:
        try:
            self.proposals()
        except Exception:  # a broken catalogue: /issue itself says what is wrong
            log.warning("could not work out the proposals for autocomplete", exc_info=True)

    @property
    def store(self) -> IssueStore:
        return IssueStore(self.data_dir, with_packaged=self._holds_bundled())

    # -- discovery ---------------------------------------------------------------------------

    def parties(self) -> Catalogue:
        """The catalogue with the parties found in the articles (``.parties``)."""
        with self._lock:
            return self._current().catalogue

    def proposals(self) -> list[Proposal]:
        """Issues the articles keep coming back to that the catalogue lacks, best first."""
        with self._lock:
            scan = self._current()
            if scan.proposals is None:
                with self.engine.leased() as index:
                    vectors = sentence_matrix(index, scan.library)
                scan.proposals = propose_issues(
                    scan.library,
                    scan.catalogue.parties,
                    known=scan.catalogue.issues,
                    dismissed=scan.catalogue.dismissed,
                    outlets={a.source for a in self.engine.index.articles.values()},
                    vectors=vectors,
                )
            return scan.proposals

    def proposal(self, proposal_id: str) -> Proposal:
        for proposal in self.proposals():
            if proposal.id == proposal_id:
                return proposal
        raise UnknownIssue(f"no proposed issue {proposal_id!r}; `issues --suggest` lists them")

    def accept(self, proposal_id: str, title: str | None = None) -> Issue:
        """Store a proposed issue (under `title` if given); it gets briefings from now on."""
        proposal = self.proposal(proposal_id)
        taken = set()
        for issue in self.catalogue().issues:
            taken.update(name_key(n) for n in (issue.id, issue.title, *issue.aliases))
        issue = proposal.as_issue(title=title)
        aliases = tuple(a for a in issue.aliases if name_key(a) not in taken)
        issue = issue.model_copy(update={"aliases": aliases or (f"{issue.id} issue",)})
        self.store.add_issue(issue)
        return issue

    # -- briefings -------------------------------------------------------------------------

    def briefing(self, topic: str | Issue) -> Briefing:
        """The briefing on `topic`: an issue of the catalogue (given as an `Issue`, or by a
        name users type); else a proposal discovery has made (by its id or one of its
        names); else any topic at all, built on the spot from the sentences about it
        (`Briefing.kind` says which). Raises `UnknownIssue` when no article discusses it."""
        with self._lock:
            scan = self._current()
            if isinstance(topic, Issue):
                return self._compose(scan, topic, CURATED)
            try:
                return self._compose(scan, scan.catalogue.resolve(topic), CURATED)
            except UnknownIssue:
                pass
            proposal = _named_proposal(scan.proposals or (), topic)
            if proposal is not None:
                return self._on_demand(scan, proposal.as_issue(), PROPOSED, topic)
            issue = topic_issue(topic, _party_words(scan))
            if not self._worded_in_library(topic):
                raise self._undiscussed(scan, topic)
            return self._on_demand(scan, issue, ON_DEMAND, topic)

    def _compose(self, scan: _Scan, issue: Issue, kind: str) -> Briefing:
        cached = scan.briefings.get(issue.id)
        if cached is None:
            cached = compose_briefing(issue, scan.catalogue, scan.sentences[issue.id], scan.key[0])
            scan.briefings[issue.id] = cached
        return cached

    def _on_demand(self, scan: _Scan, issue: Issue, kind: str, topic: str) -> Briefing:
        """A briefing on an issue the catalogue lacks: its sentences found now (terms and
        meaning, as a catalogue issue's are), its stances read from the stored parses."""
        key = f"{kind}:{name_key(issue.title)}"
        cached = scan.on_demand.get(key)
        if cached is not None:
            scan.on_demand.move_to_end(key)
            return cached
        catalogue = Catalogue(scan.catalogue.parties, [issue], scan.catalogue.sources)
        vector = encode_issues(self.engine.encoder, [issue_text(issue)])
        matcher = IssueMatcher(catalogue, vector)
        with self.engine.leased() as index:
            items = matcher.scan(index)[issue.id]
        if not items:
            raise self._undiscussed(scan, topic)
        briefing = compose_briefing(issue, catalogue, items, scan.key[0], kind)
        scan.on_demand[key] = briefing
        while len(scan.on_demand) > ON_DEMAND_CACHE:
            scan.on_demand.popitem(last=False)
        return briefing

    @staticmethod
    def _undiscussed(scan: _Scan, topic: str) -> UnknownIssue:
        similar = [i.id for i in scan.catalogue.similar(topic)]
        similar += [p.id for p in _similar_proposals(scan.proposals or (), topic)]
        shown = clean_topic(topic)[:60] or "(empty)"
        hint = f"; did you mean {', '.join(dict.fromkeys(similar))}?" if similar else ""
        return UnknownIssue(f"no article discusses {shown!r}{hint}")

    def keep(self, topic: str, title: str | None = None) -> Issue:
        """Store a proposal (by its id or a name) or any topic as an issue of this library:
        it gets briefings, autocomplete and what's-new from now on."""
        with self._lock:
            scan = self._current()
        proposal = _named_proposal(scan.proposals or self.proposals(), topic)
        if proposal is not None:
            return self.accept(proposal.id, title)
        issue = topic_issue(topic, _party_words(scan))
        issue = issue.model_copy(update={"id": issue.id.removeprefix(f"{ON_DEMAND_ID}-")})
        if title:
            title = " ".join(title.split())
            issue = issue.model_copy(
                update={"title": title, "aliases": (*issue.aliases, issue.title)}
            )
        taken = set()
        for known in self.catalogue().issues:
            taken.update(name_key(n) for n in (known.id, known.title, *known.aliases))
        if name_key(issue.id) in taken or name_key(issue.title) in taken:
            raise UnknownIssue(f"{issue.title!r} is already an issue here")
        aliases = tuple(a for a in issue.aliases if name_key(a) not in taken)
        issue = issue.model_copy(update={"aliases": aliases or (f"{issue.id} issue",)})
        self.store.add_issue(issue)
        return issue

    def statuses(self) -> list[IssueStatus]:
        """Every issue with its article count and latest sentence (for ``/issues``)."""
        with self._lock:
            scan = self._current()
        statuses = []
        for issue in scan.catalogue.issues:
            b = self.briefing(issue)
            latest = b.standing[0] if b.standing else None
            named = (
                [
                    m.start
                    for m in scan.matcher.terms.mentions(latest.text)
                    if m.issue_id == issue.id
                ]
                if latest
                else []
            )
            statuses.append(IssueStatus(issue, b.article_count, latest, min(named, default=0)))
        return statuses

    def article_hashes(self) -> dict[str, str]:
        """Article id -> content hash of the current index: the `before` of `whats_new`."""
        return {a.id: a.content_hash for a in self.engine.index.articles.values()}

    def whats_new(self, before: Mapping[str, str] | Mapping[str, ArticleInfo]) -> WhatsNew:
        """Issues that gained developments from articles added or changed since `before`
        (article id -> content hash, as `article_hashes` gives, or an earlier
        ``index.articles``)."""
        hashes = {
            k: (v.content_hash if isinstance(v, ArticleInfo) else str(v)) for k, v in before.items()
        }
        with self._lock:
            scan = self._current()
        updates = []
        for issue in scan.catalogue.issues:
            fresh = new_developments(scan.sentences[issue.id], hashes)
            if fresh:
                updates.append(IssueUpdate(issue, tuple(fresh)))
        return WhatsNew(tuple(updates), dict(scan.articles))

    def _current(self) -> _Scan:
        """The scan for the engine's current index and catalogue (computing it if needed)."""
        catalogue = self.catalogue()
        # Leased: a swap meanwhile must not close the build while its passages are read.
        with self.engine.leased() as index:
            return self._scan_of(index, catalogue)

    def _scan_of(self, index: PassageIndex, catalogue: Catalogue) -> _Scan:
        key = (index.version, catalogue.fingerprint)
        if self._scan is None or self._scan.key != key:
            model_id = index.manifest.model_id
            library = library_sentences(index)
            found = find_parties(
                (LibraryParse(s.text, s.article_id, s.parse) for s in library),
                catalogue.parties,
                catalogue.not_parties,
                outlets={a.source for a in index.articles.values()},
            )
            catalogue = catalogue.with_parties(found)
            previous = self._scan
            if (
                previous
                and previous.catalogue.fingerprint == catalogue.fingerprint
                and previous.model_id == model_id
            ):
                matcher = previous.matcher  # remembers the sentences it has classified
            else:
                matcher = IssueMatcher(catalogue, self._issue_vectors(catalogue, index))
            articles = {a.id: a.content_hash for a in index.articles.values()}
            self._scan = _Scan(
                key, catalogue, matcher, matcher.scan(index), articles, model_id, library
            )
        return self._scan

    # -- issue vectors ---------------------------------------------------------------------

    def _issue_vectors(self, catalogue: Catalogue, index: PassageIndex) -> np.ndarray:
        texts = [issue_text(issue) for issue in catalogue.issues]
        model_id = index.manifest.model_id
        digest = hashlib.sha256("\n".join([model_id, *texts]).encode()).hexdigest()[:16]
        path = self.data_dir / VECTOR_CACHE_DIR / f"issue-vectors-{digest}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape == (len(texts), index.manifest.dimension):
                return vectors
        except (OSError, ValueError):
            pass
        vectors = encode_issues(self.engine.encoder, texts)
        try:
            _save_vectors(path, vectors)
        except OSError as exc:  # a read-only data dir costs an encode per process, no more
            log.warning("cannot cache issue vectors in %s: %s", path.parent, exc)
        return vectors


_per_engine: weakref.WeakKeyDictionary[Engine, IssueBriefings] = weakref.WeakKeyDictionary()
_per_engine_lock = threading.Lock()


def briefings_for(engine: Engine) -> IssueBriefings:
    """The one `IssueBriefings` (and so the one cache) of an engine."""
    with _per_engine_lock:
        found = _per_engine.get(engine)
        if found is None:
            found = _per_engine[engine] = IssueBriefings(engine)
        return found


def briefings_of(source: Engine | IssueBriefings) -> IssueBriefings:
    """The briefings a command works on: given as they are (a Discord server's, from
    `tenancy`), or an engine's own."""
    return source if isinstance(source, IssueBriefings) else briefings_for(source)


def _stamp(paths: tuple[Path, ...]) -> tuple:
    """Changes when any of the catalogue files is edited, added or removed."""
    stamp = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        stamp.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(stamp)


def encode_issues(encoder: Encoder, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dimension), np.float32)
    return np.asarray(encoder.encode(texts), np.float32)


def _save_vectors(path: Path, vectors: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in path.parent.glob("issue-vectors-*.npy"):
        if old != path:
            old.unlink(missing_ok=True)


def _named_proposal(proposals: Iterable[Proposal], topic: str) -> Proposal | None:
    """The proposal `topic` names: its id, title or one of its aliases."""
    key = name_key(topic)
    if not key:
        return None
    for proposal in proposals:
        if key in {name_key(n) for n in (proposal.id, proposal.title, *proposal.aliases)}:
            return proposal
    return None


def _similar_proposals(proposals: Iterable[Proposal], text: str, limit: int = 3) -> list[Proposal]:
    query = clean_topic(text).lower()
    if not query:
        return []
    scored = []
    for proposal in proposals:
        names = [n.lower() for n in (proposal.title, *proposal.aliases)]
        best = max(fuzz.WRatio(query, n) for n in names)
        if best >= SUGGESTION_CUTOFF:
            scored.append((best, proposal))
    return [p for _, p in sorted(scored, key=lambda pair: -pair[0])[:limit]]


def _party_words(scan: _Scan) -> frozenset[str]:
    """Lower-case words of the parties' names and their people's."""
    words: set[str] = set()
    for party in scan.catalogue.parties.values():
        for name in (party.name, *party.aliases, *party.people):
            words.update(w.lower() for w in name.replace("’", "'").split())
            words.update(w.lower().removesuffix("'s") for w in name.split())
    return frozenset(words)
