"""What a question asks for: its kind, its focus terms, the dates it is about, and whether it
wants the newest (or the earliest) coverage.

Nothing here knows any article: the rules are about how people phrase questions in a chat
("who's X?", "in the end did…", "what happened in may 2019?", "when talks opened").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from corpus.dates import date_mentions
from corpus.normalize import clean_unicode
from retrieval.question_frame import QuestionFrame, read_frame
from retrieval.tokenize import tokenize

# -- kinds ------------------------------------------------------------------------------------

WHO, WHEN, HOW_MUCH, WHY, YES_NO, WHAT_HAPPENED, LIST, WHAT = (
    "who",
    "when",
    "how-much",
    "why",
    "yes-no",
    "what-happened",
    "list",
    "what",
)

_WHO = re.compile(
    r"^\s*(who|whom|whose)\b|\bwho(?:'s| is| was| are)\b|"
    r"^\s*(which|what)\s+(official|minister|negotiator|person|people|country|countries|"
    r"leader|company|companies|side|party|parties|group|body|agency|team)\b",
    re.I,
)
_WHEN = re.compile(
    r"^\s*(when|since when|by when|until when)\b|\bwhat (day|date|year|month|time)\b|"
    r"\bwhat(?:'s| is| was) the (deadline|date|timeline|timing)\b|\bhow (long ago|soon)\b",
    re.I,
)
_HOW_MUCH = re.compile(
    r"\bhow (many|much|big|large|high|low|long|far|steep|severe)\b|"
    r"\bwhat(?:'s| is| was| were| are)? (the )?(percentage|percent|share|rate|amount|number|"
    r"level|value|price|cost|figure|size|total|sum|tariff rate|volume)\b|"
    r"\bat what (rate|level|price)\b|\b(rate|percentage)\b\??$",
    re.I,
)
_WHY = re.compile(
    r"^\s*(why|how come)\b|\bwhat(?:'s| is| was)? (caused|causing|led to|prompted|triggered|"
    r"behind|the reason|drove|drives|motivated)\b|\bfor what reason\b|\breasons? (for|why)\b",
    re.I,
)
_YES_NO = re.compile(
    r"^\s*(so\s+|and\s+|but\s+|in the end,?\s+)?(is|are|was|were|did|does|do|has|have|had|will|"
    r"would|can|could|should|shall|might|may)\b(?! you (tell|say|explain|give|list|summari))|"
    r"\bor not\b\??$",
    re.I,
)
_WHAT_HAPPENED = re.compile(
    r"\bwhat (happened|went on|is going on|'s going on|changed|came of|came out of)\b|"
    r"\bwhat(?:'s| is) (new|up|the latest|the story|the news|the situation|the status)\b|"
    r"\b(any|latest) (news|update|updates|developments?)\b|\bwhat(?:'s| is) happening\b",
    re.I,
)
_LIST = re.compile(
    r"\bwhat (are|were) (the )?(main |key |big |biggest |major |remaining |outstanding |other )*"
    r"(issues|points|sticking points|demands|differences|disagreements|problems|obstacles|"
    r"concerns|terms|parts|elements|areas|topics|sectors|goods|products|commitments|"
    r"priorities|options|changes|asks|goals|steps)\b|\bwhich (issues|sectors|products|goods|"
    r"areas|topics)\b|\blist\b|\bwhat(?:'s| is) (still )?(on the table|in the deal|left)\b",
    re.I,
)

# -- time ----------------------------------------------------------------------------------

NEWEST, OLDEST = "newest", "oldest"
_NEWEST = re.compile(
    r"\b(now|right now|currently|current|still|latest|newest|most recent|recently|lately|"
    r"these days|anymore|any more|at this point|as of now|so far|to date|in the end|"
    r"eventually|ultimately|finally|end up|ended up|ends up|wound up|end result|actually|ever|"
    r"stick|stuck|survive|survived|go through|went through|come through|came through|"
    r"outcome|result|status|where (do|does|did) (things|it|they|talks|the talks) stand|"
    r"where (are|is) (things|it|we|they|talks|the talks)|after all|today|nowadays|yet|"
    r"last i heard|what came of)\b|^\s*so\s+(did|is|are|was|were|has|have|do|does)\b",
    re.I,
)
_OLDEST = re.compile(
    r"\b(at (the )?(first|start|outset|beginning)|at first|initially|originally|early on|"
    r"in the beginning|to begin with|first round|opening round|"
    r"when (the )?(talks|negotiations|it|they|things) (started|began|opened|kicked off|got "
    r"going|began)|(talks|negotiations) (started|began|opened|kicked off)|first (asked|wanted|"
    r"demanded|proposed|said))\b",
    re.I,
)
# "last week", "this month": relative to today, not to any article.
_RELATIVE_SPAN = re.compile(r"\b(last|this|past|previous)\s+(week|month|year)\b", re.I)

# Words that ask but name no topic: dropped from the focus (the search still sees them).
_QUESTION_WORDS = frozenset(
    tokenize(
        """who whom whose what which when where why how whats whos happen happened happening
        going actually really exactly basically anyway anything something stuff thing things
        know tell explain give list summarize summarise summary overview latest news update
        updates now currently still yet ever end finally eventually ultimately so did does
        say said says mean means think thought like please pls lol guys hey hi yo ok okay
        status situation story deal deals talk talks many much main key big biggest major"""
    )
)


@dataclass(frozen=True)
class DateScope:
    """The days a question is about: one or more ranges ("in March" of any covered year)."""

    ranges: tuple[tuple[dt.date, dt.date], ...]
    label: str

    def contains(self, day: dt.date) -> bool:
        return any(first <= day <= last for first, last in self.ranges)

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return any(a <= last and first <= b for a, b in self.ranges)


@dataclass(frozen=True)
class QuestionAnalysis:
    question: str
    kind: str
    focus: tuple[str, ...]  # stemmed content terms that name the topic
    names: tuple[str, ...]  # capitalised names in the question ("Lighthizer", "Liu He")
    subject: str | None  # "who is X?": X
    speaker: str | None  # "what did X say / think / want?": X
    counted: str | None  # "how many dairy farms …?": the stem of what is counted ("farm")
    scope: DateScope | None
    order: str | None  # NEWEST, OLDEST or None
    context_focus: tuple[str, ...] = ()  # a follow-up's: the focus of the question before it
    frame: QuestionFrame | None = None  # what its parse says it asks (None: not parsed)

    def following(self, earlier: QuestionAnalysis) -> QuestionAnalysis:
        """This follow-up read in the context of the question before it: its own focus, then
        the earlier one's (counted at half weight); the earlier dates and recency unless it
        names its own."""
        from dataclasses import replace

        return replace(
            self,
            focus=tuple(dict.fromkeys(self.focus + earlier.focus)),
            context_focus=tuple(t for t in earlier.focus if t not in self.focus),
            scope=self.scope or earlier.scope,
            order=self.order or earlier.order,
        )

    @property
    def broad(self) -> bool:
        """A question a short list of points answers better than one sentence."""
        return self.kind in (LIST, WHAT_HAPPENED) or (self.kind == WHAT and len(self.focus) <= 2)


_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_SAID = re.compile(
    r"\b(?:what|how|why)\s+(?:did|does|do|has|have|had|is|was|will|would)\s+(?:the\s+)?"
    r"(?P<who>[\w.' -]{2,40}?)\s+(?:say|said|think|thought|tell|told|make of|reckon|argue|"
    r"claim|warn|announce|tweet|write)\b",
    re.I,
)
_WHO_IS = re.compile(
    r"^\s*who(?:'s| is| was| are| were)\s+(?:the\s+|this\s+|that\s+)?(.+?)\??$", re.I
)


# Chat spelling: "whos", "whats", "hows" without the apostrophe.
_BARE_CONTRACTION = re.compile(r"\b(who|what|how|where|when|why|that|there)s\b", re.I)


def _tidy(question: str) -> str:
    return _BARE_CONTRACTION.sub(r"\1's", clean_unicode(question).strip())


def question_kind(question: str) -> str:
    text = _tidy(question)
    if _WHY.search(text):
        return WHY
    if _WHEN.search(text):
        return WHEN
    if _HOW_MUCH.search(text):
        return HOW_MUCH
    if _WHO.search(text):
        return WHO
    if _WHAT_HAPPENED.search(text):
        return WHAT_HAPPENED
    if _LIST.search(text):
        return LIST
    if _YES_NO.search(text):
        return YES_NO
    return WHAT


def _scope(text: str, today: dt.date, years: range | None) -> DateScope | None:
    relative = _RELATIVE_SPAN.search(text)
    if relative:
        unit = relative.group(2).lower()
        days = {"week": 7, "month": 31, "year": 366}[unit]
        start = today - dt.timedelta(days=days if relative.group(1).lower() != "this" else 0)
        if relative.group(1).lower() == "this":
            start = {
                "week": today - dt.timedelta(days=today.weekday()),
                "month": today.replace(day=1),
                "year": today.replace(month=1, day=1),
            }[unit]
        return DateScope(((start, today),), relative.group(0))
    mentions = date_mentions(text, None, years=years)
    if not mentions:
        return None
    label = ", ".join(dict.fromkeys(text[m.start : m.end] for m in mentions))
    return DateScope(tuple((m.first, m.last) for m in mentions), label)


_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def _core(text: str) -> str:
    """The question proper: up to its first question mark, asides in brackets removed."""
    text = _ASIDE.sub(" ", text)
    head, mark, _ = text.partition("?")
    return head + mark if mark and len(head.split()) >= 2 else text


_COUNTED = re.compile(
    r"\bhow (?:many|much)\s+(?P<what>(?:[\w'$-]+\s+){0,3}?[\w'$-]+?)\s+(?:is|are|was|were|did|"
    r"does|do|has|have|had|will|would|can|could|should|got|get|gets|went|ended|end|of|in|on|"
    r"for|from|to|at|by|with|under|did)\b",
    re.I,
)
_NOT_COUNTED = frozenset(tokenize("money extra stuff more time long far big total"))


def _counted(text: str) -> str | None:
    match = _COUNTED.search(text)
    if not match:
        return None
    stems = [t for t in tokenize(match.group("what")) if t not in _NOT_COUNTED]
    return stems[-1] if stems else None


def analyze_question(
    question: str,
    *,
    today: dt.date | None = None,
    years: range | None = None,
    spellings: Callable[[Iterable[str]], dict[str, str]] | None = None,
    parse: bool = True,
) -> QuestionAnalysis:
    """Read `question`; `years` are the years the articles cover (for "in March" without a
    year), `today` anchors "last week", `spellings` gives the articles' capitals of proper
    names (for the parse of a question typed in lower case)."""
    text = _tidy(question)
    kind = question_kind(text)
    scope = _scope(text, today or dt.date.today(), years)
    order = OLDEST if _OLDEST.search(text) else NEWEST if _NEWEST.search(text) else None
    if scope is not None and _RELATIVE_SPAN.search(text) is None:
        order = order if order == OLDEST else None  # a named date wins over "latest"
    names = tuple(
        m.group(0)
        for m in _NAME.finditer(text)
        if m.start() > 0 and m.group(0).lower() not in ("i", "i'm")
    )
    subject = None
    who_is = _WHO_IS.match(text)
    if kind == WHO and who_is:
        subject = who_is.group(1).strip()
    # The focus comes from the question itself: its first sentence up to "?", without asides in
    # brackets ("what blocks the deal? asking for a friend") and without the dates, which are
    # its scope, not its topic.
    core = _core(text)
    spans = [(m.start, m.end) for m in date_mentions(core, None, years=years)]
    spans += [m.span() for m in _RELATIVE_SPAN.finditer(core)]
    undated = "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(core))
    focus = tuple(t for t in dict.fromkeys(tokenize(undated)) if t not in _QUESTION_WORDS)
    said = _SAID.search(text)
    speaker = said.group("who").strip() if said else None
    counted = _counted(text) if kind == HOW_MUCH else None
    frame = (
        read_frame(
            core,
            kind,
            subject=subject,
            speaker=speaker,
            counted=counted,
            spellings=spellings,
        )
        if parse
        else None
    )
    return QuestionAnalysis(
        text, kind, focus, names, subject, speaker, counted, scope, order, frame=frame
    )
