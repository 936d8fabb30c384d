"""Turning raw article text into clean paragraphs: page furniture out, original wording kept.

Furniture is recognised by shape, not by the wording of any one article: short label-like lines
("Advertisement", "poll image", "Share this story"), counters ("Total Results: 0"), photo credits,
subscription prompts, and a lone question sitting next to such lines (a reader poll).
"""

from __future__ import annotations

import re

from corpus.normalize import clean_unicode

_WS = re.compile(r"[ \t\r\f\v]+")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))")

_SOCIAL = (
    r"(?:share|tweet|email|e-mail|print|facebook|twitter|x|linkedin|whatsapp|reddit|copy link"
    r"|comments?)"
)
_NAME = r"[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3}"
_FURNITURE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"advertisement|advertising|sponsored(?: content)?|ad|ads by \w+",
        r"(?:poll|photo|video|gallery|featured|article|hero|lead) (?:image|photo|video)s?",
        r"(?:total )?(?:results|votes|responses|comments)\s*:?\s*[\d,]+",
        r"[\d,]+ (?:comments?|votes?|shares?|responses?)",
        rf"{_SOCIAL}(?:[\s|/•·,]+{_SOCIAL})*(?: (?:this|the) (?:article|story|page|post))?"
        r"(?: on .{0,30})?:?",
        r"(?:click|tap) here\b.*",
        r"(?:story|article) continues below.*",
        r"listen to (?:this|the) (?:article|story).*",
        r"(?:loading|advertisement)\s*\.{3}|…",
        r"(?:read|see) (?:more|also|next)\b.*",
        r"(?:related|more from|recommended|trending|most read|most popular|also read|watch|up next)"
        r"(?:\s*(?:stories|articles|videos|coverage|reading|links))?\s*(?::.*)?",
        r"(?:photo|photograph|image|picture|video|file photo|illustration)(?: credit)?\s*[:|].*",
        r"\(?(?:ap|afp|cp|reuters|getty|bloomberg|file) ?(?:photo|images?)\b.*",
        r"(?:copyright|©|\(c\)).*|.*\ball rights reserved\b.*",
        r"(?:we use cookies|this (?:site|website) uses cookies)\b.*",
        rf"(?!.*\.$)by {_NAME}(?: and {_NAME})?",  # a byline; a sentence would end with "."
        r"(?:updated|published|posted)(?: on| at)?:? .{0,40}\d.{0,30}",
    )
]
_PROMO_WORDS = re.compile(
    r"\b(?:subscribe|subscription|sign up|newsletter|log ?in|register|download (?:our|the) app|"
    r"follow us|get (?:the|our) .{0,20}(?:app|newsletter|alerts))\b",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"\b(?:photo|photograph|getty images|shutterstock)\b|/\s*(?:reuters|ap|afp|cp|bloomberg)\b",
    re.I,
)
_TERMINAL = re.compile(r"[.!?…\"'”’)]\s*$")


def _words(text: str) -> int:
    return len(text.split())


def is_furniture(paragraph: str) -> bool:
    """True for page furniture that must never be a passage or an answer."""
    text = clean_unicode(paragraph).strip()
    if not text:
        return True
    if any(p.fullmatch(text) for p in _FURNITURE):
        return True
    words = _words(text)
    if words <= 15 and _PROMO_WORDS.search(text):
        return True
    if words <= 15 and _CREDIT.search(text) and not re.search(r"\b(?:said|says|told)\b", text):
        return True
    # A label: a few words with no sentence punctuation ("poll image", "Most Read", "Politics").
    return words <= 3 and not _TERMINAL.search(text)


def _is_lone_question(paragraph: str) -> bool:
    text = clean_unicode(paragraph).strip()
    return text.endswith("?") and _words(text) <= 25 and '"' not in text and text.count("?") == 1


def split_paragraphs(raw: str) -> list[str]:
    """Blank-line separated paragraphs, each on one line with single spaces, markdown marks off."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", raw.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [_MD_PREFIX.sub("", line.strip()) for line in block.split("\n")]
        text = _WS.sub(" ", " ".join(line for line in lines if line)).strip()
        text = _MD_LINK.sub(r"\1", text)
        if text:
            paragraphs.append(text)
    return paragraphs


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Drop furniture; a lone question next to furniture is a reader poll and goes too."""
    furniture = [is_furniture(p) for p in paragraphs]
    for i, paragraph in enumerate(paragraphs):
        if furniture[i] or not _is_lone_question(paragraph):
            continue
        neighbours = furniture[max(i - 1, 0) : i] + furniture[i + 1 : i + 2]
        if any(neighbours):
            furniture[i] = True
    return [p for p, junk in zip(paragraphs, furniture, strict=True) if not junk]
