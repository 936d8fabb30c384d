"""Is a sentence news (an outcome, a decision, where things now stand) or background?

"Where it stands" should quote what the newest articles report happened ("the pact was
ratified on Thursday", "talks ended without a deal") rather than what they explain ("the pact,
an 11-nation accord that ...", "Canada has long protected its dairy farmers"). The cues are
the ones a reader uses: an event verb in the past tense or the present perfect, a day word, a
status phrase; against them, definitions, "has long", "for years", dates long before the
article. A score above zero means news."""

from __future__ import annotations

import re

_EVENT = re.compile(
    r"\b(?:agreed|signed|reached|announced|approved|ratified|joined|applied|imposed|raised|"
    r"delayed|suspended|cancell?ed|rejected|concluded|completed|finali[sz]ed|launched|"
    r"resumed|ended|broke\s+down|stalled|failed|withdrew|left|lifted|removed|cut|hiked|"
    r"extended|postponed|struck|sealed|entered\s+into\s+force|took\s+effect|came\s+into|"
    r"put\s+on\s+hold|backed|accepted|adopted|passed|submitted|filed|decided|dropped|won|"
    r"became|began|started|opened)\b",
    re.I,
)
_STATUS = re.compile(
    r"\b(?:will\s+(?:take\s+(?:effect|place)|enter\s+into\s+force|be\s+signed|sign|join|impose|"
    r"raise|delay|resume|hold)|is\s+set\s+to|are\s+set\s+to|on\s+hold|remain(?:s|ed)?\s+"
    r"(?:in\s+(?:effect|place)|stalled|unresolved)|no\s+longer|has\s+(?:now|yet|not\s+yet)|"
    r"so\s+far|still)\b",
    re.I,
)
_WHEN = re.compile(
    r"\b(?:on\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|"
    r"today|tonight|this\s+(?:week|month|morning)|last\s+(?:week|month|night))\b",
    re.I,
)
_BACKGROUND = re.compile(
    r"\b(?:ha(?:s|ve)\s+long|for\s+(?:years|decades)|historically|traditionally|originally|"
    r"was\s+first|known\s+as|so-called|in\s+the\s+past|used\s+to|which\s+(?:is|was|are)\s+"
    r"(?:a|an|the)|is\s+(?:a|an)\s+\w+\s+(?:deal|pact|agreement|trade|free)|"
    r"(?:a|an)\s+\d+-(?:country|nation|member)\s+(?:deal|pact|agreement|bloc))\b",
    re.I,
)
_OLD_YEAR = re.compile(r"\b(?:since|in|from)\s+(19\d\d|20\d\d)\b")
OLD_YEARS = 2  # a year this many before the article is background


def status_score(text: str, year: int | None = None) -> float:
    """Above zero: the sentence reports an outcome or a status; below: it explains."""
    score = 0.0
    if _EVENT.search(text):
        score += 1.0
    if _STATUS.search(text):
        score += 1.0
    if _WHEN.search(text):
        score += 0.5
    if _BACKGROUND.search(text):
        score -= 1.5
    if year is not None:
        for match in _OLD_YEAR.finditer(text):
            if int(match.group(1)) <= year - OLD_YEARS:
                score -= 1.0
                break
    if text.lstrip().startswith(("“", '"')):
        score -= 0.5  # a quotation says what someone thinks, rarely where things stand
    return score
