"""Issue briefings: where an issue stands, each party's position, and a dated timeline, every
sentence quoted verbatim from an article and cited. Plain data, no Discord or terminal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from briefings.catalogue import Catalogue, Issue
from briefings.matching import IssueSentence
from briefings.status import status_score
from briefings.timeline import SentenceGroup, event_date, group_copies, resolved_dates

STANDING_DAYS = 3  # "where it stands" quotes the newest article and others this recent
STANDING_SENTENCES = 2
STANDING_MARGIN = 0.1  # a second sentence must be nearly as relevant as the first
POSITIONS_PER_PARTY = 4  # the most recent ones
TIMELINE_ENTRIES = 12  # the most relevant developments, shown oldest first
CURATED, PROPOSED, ON_DEMAND = "curated", "proposed", "on-demand"


@dataclass(frozen=True)
class CitedSentence:
    """A verbatim sentence and the article passage it is quoted from."""

    text: str
    article_id: str
    passage_id: str
    title: str
    source: str
    date: str | None  # the article's ISO date
    url: str | None
    also_in: tuple[tuple[str, str], ...] = ()  # (article id, outlet) of other copies
    dates: tuple[tuple[str, str], ...] = ()  # relative dates resolved: ("Friday", "2018-09-07")


@dataclass(frozen=True)
class Position:
    """A sentence stating what one party wants, refuses or agreed to on the issue."""

    party: str  # party id
    party_name: str
    sentence: CitedSentence
    speaker: str | None  # the named person who said it, if the sentence names one
    stance: str  # the stance verb(s): "wants", "is seeking"


@dataclass(frozen=True)
class TimelineEntry:
    date: str | None  # ISO; None when neither the sentence nor its article is dated
    dated_by: str  # the sentence's day word ("Friday"), or "published": the article's date
    sentence: CitedSentence
    parties: tuple[str, ...] = ()  # party ids whose stance on the issue the sentence states
    relevance: float = 0.0  # how closely it is about the issue (the picture labels the top)


@dataclass(frozen=True)
class Briefing:
    issue: Issue
    parties: tuple[tuple[str, str], ...]  # (party id, name), in display order
    standing: tuple[CitedSentence, ...]
    positions: tuple[Position, ...]  # grouped by party, oldest first within a party
    timeline: tuple[TimelineEntry, ...]  # oldest first, undated last
    article_count: int  # articles quoted or copied in the briefing
    index_version: str
    developments: tuple[TimelineEntry, ...] = ()  # every development, oldest first (the picture)
    # CURATED: an issue of the catalogue; PROPOSED: one discovery proposes, not yet accepted;
    # ON_DEMAND: built on the spot from a topic a member typed.
    kind: str = "curated"

    @property
    def curated(self) -> bool:
        return self.kind == CURATED

    @property
    def mentioned(self) -> bool:
        """False when no article mentions the issue (the briefing then says only that)."""
        return bool(self.timeline or self.standing)

    def positions_of(self, party: str) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.party == party)

    @property
    def citations(self) -> tuple[CitedSentence, ...]:
        """Every sentence quoted, in order of first appearance."""
        quoted = [
            *self.standing,
            *(p.sentence for p in self.positions),
            *(e.sentence for e in self.timeline),
        ]
        return tuple(dict.fromkeys(quoted))


@dataclass(frozen=True)
class IssueStatus:
    """One line of the issue list."""

    issue: Issue
    article_count: int
    latest: CitedSentence | None  # the first "where it stands" sentence
    focus: int = 0  # where in `latest` the issue is first named


@dataclass(frozen=True)
class IssueUpdate:
    """New developments on an issue from articles added since some earlier state."""

    issue: Issue
    sentences: tuple[CitedSentence, ...]  # oldest first

    @property
    def article_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.article_id for s in self.sentences))


def cite(group: SentenceGroup) -> CitedSentence:
    ref = group.sentence
    a = ref.article
    also = tuple(
        dict.fromkeys((c.sentence.article.id, c.sentence.article.source) for c in group.copies)
    )
    return CitedSentence(
        text=ref.text,
        article_id=a.id,
        passage_id=ref.passage_id,
        title=a.title,
        source=a.source,
        date=a.date,
        url=a.url,
        also_in=also,
        dates=resolved_dates(ref),
    )


def _chronological(group: SentenceGroup) -> tuple:
    date, _ = event_date(group.sentence)
    ref = group.sentence
    return (date is None, date.isoformat() if date else "", ref.article.date or "", ref.order)


def _recent_articles(groups: list[SentenceGroup]) -> set[str]:
    """The newest article on the issue and any published within a few days before it."""
    dated = [g.sentence.article for g in groups if g.sentence.article.date]
    if not dated:
        return {g.sentence.article.id for g in groups}
    newest = max(dt.date.fromisoformat(a.date) for a in dated)
    since = (newest - dt.timedelta(days=STANDING_DAYS)).isoformat()
    return {a.id for a in dated if a.date >= since}


def _is_news(group: SentenceGroup) -> bool:
    date = group.sentence.article.date
    return status_score(group.sentence.text, int(date[:4]) if date else None) > 0


def _standing(groups: list[SentenceGroup]) -> list[SentenceGroup]:
    """From the most recent articles on the issue: the most relevant sentence reporting an
    outcome or a status (`briefings.status`; background explanation only when there is
    nothing else), newest article first, and a second one when it is nearly as relevant.
    Newest first."""
    recent = _recent_articles(groups)
    candidates = [g for g in groups if g.sentence.article.id in recent]
    news = [g for g in candidates if _is_news(g)]
    pool = sorted(
        news or candidates,
        key=lambda g: (g.sentence.article.date or "", g.item.relevance),
        reverse=True,
    )
    if not pool:
        return []
    first = pool[0]
    others = sorted(pool[1:], key=lambda g: -g.item.relevance)
    chosen = [first] + [
        g
        for g in others[: STANDING_SENTENCES - 1]
        if g.item.relevance >= first.item.relevance - STANDING_MARGIN
    ]
    return sorted(chosen, key=_chronological, reverse=True)


def _positions(
    groups: list[SentenceGroup], issue: Issue, catalogue: Catalogue
) -> tuple[list[Position], list[str]]:
    by_party: dict[str, list[tuple[SentenceGroup, list]]] = {}
    for group in sorted(groups, key=_chronological):
        stances: dict[str, list] = {}
        for stance in group.item.stances:
            if not stance.secondary:  # another party's report of what this one did
                stances.setdefault(stance.party, []).append(stance)
        for party, found in stances.items():
            by_party.setdefault(party, []).append((group, found))
    # The issue's own parties first, then the parties found taking a stance, most vocal first.
    others = [p for p in by_party if p not in issue.parties]
    own = [p for p in issue.parties if p in catalogue.parties]  # not one an admin dropped
    order = own + sorted(others, key=lambda p: (-len(by_party[p]), p))
    positions = []
    for party in order:
        name = catalogue.parties[party].name if party in catalogue.parties else party
        for group, found in by_party.get(party, [])[-POSITIONS_PER_PARTY:]:
            speaker = next((s.speaker for s in found if s.speaker), None)
            verbs = ", ".join(dict.fromkeys(" ".join(s.verb.split()) for s in found))
            positions.append(Position(party, name, cite(group), speaker, verbs))
    return positions, order


def _entry(group: SentenceGroup) -> TimelineEntry:
    date, dated_by = event_date(group.sentence)
    parties = tuple(dict.fromkeys(s.party for s in group.item.stances if not s.secondary))
    return TimelineEntry(
        date.isoformat() if date else None,
        dated_by,
        cite(group),
        parties,
        round(group.item.relevance, 4),
    )


def _timeline(groups: list[SentenceGroup], limit: int | None = TIMELINE_ENTRIES):
    chosen = sorted(groups, key=lambda g: -g.item.relevance)[:limit]
    return [_entry(group) for group in sorted(chosen, key=_chronological)]


def compose_briefing(
    issue: Issue,
    catalogue: Catalogue,
    items: list[IssueSentence],
    index_version: str,
    kind: str = CURATED,
) -> Briefing:
    """The briefing on `issue` from the sentences about it (`IssueMatcher.scan`)."""
    groups = group_copies(items)
    positions, order = _positions(groups, issue, catalogue)
    parties = tuple((p, catalogue.parties[p].name if p in catalogue.parties else p) for p in order)
    articles = {g.sentence.article.id for g in groups} | {
        c.sentence.article.id for g in groups for c in g.copies
    }
    return Briefing(
        issue=issue,
        parties=parties,
        standing=tuple(cite(g) for g in _standing(groups)),
        positions=tuple(positions),
        timeline=tuple(_timeline(groups)),
        article_count=len(articles),
        index_version=index_version,
        developments=tuple(_timeline(groups, limit=None)),
        kind=kind,
    )


def new_developments(items: list[IssueSentence], before: Mapping[str, str]) -> list[CitedSentence]:
    """Sentences from articles that are new or changed since `before` (article id -> content
    hash) and that no article already there carried, oldest first."""
    fresh = [
        group
        for group in group_copies(items)
        if all(
            before.get(m.sentence.article.id) != m.sentence.article.content_hash
            for m in (group.item, *group.copies)
        )
    ]
    return [cite(g) for g in sorted(fresh, key=_chronological)]
