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
_MD_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?)")
# A list item: a bullet ("-", "*", "+", "•" and kin) or "1." / "2)" before the text.
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•●▪◦‣·]|\d{1,2}[.)])\s+(?=\S)")
BULLET = "•"

_SOCIAL = (
    r"(?:share|tweet|email|e-mail|print|facebook|twitter|x|linkedin|whatsapp|reddit|copy link"
    r"|comments?)"
)
_NAME = r"[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3}"
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_FURNITURE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"advertisement|advertising|sponsored(?: content)?|ad|ads by \w+",
        r"(?:poll|photo|video|gallery|featured|article|hero|lead) (?:image|photo|video)s?",
        r"(?:total )?(?:results|votes|responses|comments)\s*:?\s*[\d,]+",
        r"[\d,]+ (?:comments?|votes?|shares?|responses?)",
        rf"{_SOCIAL}(?:[\s|/•·,]+{_SOCIAL})*(?: (?:this|the) (?:article|story|page|post))?"
        r"(?: on .{0,30})?:?",
        r"(?:click|tap) here\b.{0,80}",
        r"(?:story|article) continues below.*",
        r"listen to (?:this|the) (?:article|story).*",
        r"(?:loading|advertisement)\s*\.{3}|…",
        # "Read more: …", "See also …": a pointer, not a sentence of the story.
        r"(?:read|see) (?:more|also|next)(?:\s*:.{0,120}|(?:\s+\S+){0,6})",
        r"(?:related|more from|recommended|trending|most read|most popular|also read|watch|up next)"
        r"(?:\s*(?:stories|articles|videos|coverage|reading|links))?\s*(?::.*)?",
        # A credit ("Photo: Jane Doe/Reuters"); a longer "Photo: …" paragraph may be prose.
        r"(?:photo|photograph|image|picture|video|file photo|illustration)(?: credit)?\s*[:|]"
        r"(?:\s*\S+){0,8}",
        r"\(?(?:ap|afp|cp|reuters|getty|bloomberg|file) ?(?:photo|images?)\b.{0,60}",
        # "© 2018 Example Media. All rights reserved."; not "Copyright protection for …".
        r"(?:copyright\s*)?(?:©|\(c\)).{0,100}|copyright\s+(?:©\s*)?\d{4}.{0,100}|"
        r".{0,100}\ball rights reserved\b.{0,40}",
        r"(?:we use cookies|this (?:site|website) uses cookies)\b.*",
        rf"(?!.*\.$)by {_NAME}(?: and {_NAME})?",  # a byline; a sentence would end with "."
        r"(?:updated|published|posted)(?: on| at)?:? .{0,40}\d.{0,30}",
        # Navigation and page labels.
        r"skip to [\w ]{3,30}",
        r"(?:home|news|world)\s*>.{0,120}",  # a breadcrumb: Home > Press Room >
        r"tags?\s*:.{0,120}",
        r"this (?:article|story|page) is (?:more than|over) .{1,20} old\.?",
        r"(?:more|story|details) to (?:follow|come)\.?",
        r"source\s*:\s*\S.{0,60}",
        r".{0,80}\b(?:can be found|is available|are available) (?:here|by clicking here|online)\.?",
        r"read the (?:full|complete) .{0,60} here\.?",
        r".{0,120}\bdelivered (?:directly )?to your inbox\.?",
        r"(?:contact us|about us|terms of (?:use|service)|privacy policy)\b.{0,40}",
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
# A time stamp or dateline: what is left of it once dates, times, weekdays, zones and
# separators are gone is at most an outlet's name ("Tue, Aug 06, 2019 - 6:44 AM",
# "RTI | 28 November 2024", "(Xinhua) 07:59, September 17, 2021").
_STAMP_PARTS = re.compile(
    rf"\b{_MONTHS}(?=[\s\d,.]|$)|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b\.?|"
    r"\b\d{1,4}(?::\d\d){0,2}\b|\b(?:am|pm|a\.m\.|p\.m\.|gmt|utc|est|edt|pst|pdt|pt|et|"
    r"bst|cet|cest|jst|hkt|sgt|ist)\b|\bupdated\b|\bpublished\b|\bposted\b|\bago\b|"
    r"\b(?:minutes?|hours?|days?)\b|\bdate\b|\bby\b|[-+/|,:()•.–—]",
    re.IGNORECASE,
)
_HAS_DATE = re.compile(rf"\b\d{{4}}\b|\b{_MONTHS}\s+\d|\d\s+{_MONTHS}|\d:\d\d", re.I)
# A photo caption ends with its credit: "(Patrick Gower / Newshub)", "(AP: Mark Schiefelbein)",
# ". Photo: Xinhua"; or opens the way agency captions do ("WASHINGTON, DC - NOVEMBER 27: …").
_CAPTION_END = re.compile(
    r"(?:\(\s*[A-Z][\w.' -]{1,40}\s*[/:]\s*[A-Z][\w.' -]{1,40}\)|\bPhotos?:\s*[\w.' /-]{2,40})"
    r"\s*\.?\s*$"
)
_CAPTION_START = re.compile(
    rf"^(?:[A-Z][A-Z. ]+,(?: [A-Z][A-Za-z. ]+)? [-–—] {_MONTHS.upper()}[A-Z]* \d{{1,2}}:|"
    r"in this (?:file )?(?:photo|image|picture)\b)",
    re.IGNORECASE,
)
# A leading ISO date stamp some page extractions put before the first line.
_LEADING_STAMP = re.compile(r"^\s*date\s+\d{4}-\d\d-\d\d\s+")


def _words(text: str) -> int:
    return len(text.split())


def _is_stamp(text: str) -> bool:
    if not _HAS_DATE.search(text):
        return False
    rest = _STAMP_PARTS.sub(" ", text).split()
    return len(rest) <= 4 and _words(text) <= 16


def _is_caption(text: str) -> bool:
    if _CAPTION_START.search(text):
        return True
    return _words(text) <= 45 and bool(_CAPTION_END.search(text))


def _is_label_list(text: str) -> bool:
    """A list whose every item is a label: menu entries ("Skip to content"), other stories'
    shouting headlines, time stamps."""
    items = [line.lstrip("• ").strip() for line in text.split("\n")]
    if len(items) < 2 or not text.startswith("•"):
        return False
    return all(
        is_furniture(item) or (item.upper() == item and _words(item) <= 12) or _words(item) <= 2
        for item in items
        if item
    )


def is_furniture(paragraph: str, *, labels: bool = True) -> bool:
    """True for page furniture that must never be a passage or an answer. With
    ``labels=False`` a short line without punctuation (a label, or a headline) is not judged."""
    text = clean_unicode(paragraph).strip()
    if not text:
        return True
    if "\n" in text:
        return _is_label_list(text)
    if any(p.fullmatch(text) for p in _FURNITURE):
        return True
    words = _words(text)
    if words <= 15 and _PROMO_WORDS.search(text):
        return True
    if words <= 15 and _CREDIT.search(text) and not re.search(r"\b(?:said|says|told)\b", text):
        return True
    if _is_stamp(text) or _is_caption(text):
        return True
    # A byline with the author's organisation: "Chad P. Bown (PIIE)".
    if re.fullmatch(r"(?:[A-Z][\w.'-]*\s+){1,3}[A-Z][\w.'-]*\s*\([A-Z][\w.&-]{1,12}\)", text):
        return True
    if words <= 8 and re.search(
        r"\((?:sponsored|advertisement|promoted|partner content)\)", text, re.I
    ):
        return True
    # A label or a section heading: a few words with no sentence punctuation ("poll image",
    # "Most Read", "Political Figures - US", "CHEAT SHEET").
    return labels and words <= 5 and not _TERMINAL.search(text)


def _repeats_title(text: str, title: str) -> bool:
    """The headline again, maybe with a date stamp before it or the section and outlet after it
    ("China edits trade deal, Latest World News - The New Paper")."""
    if not title:
        return False
    norm_text = clean_unicode(_LEADING_STAMP.sub("", text)).strip().lower()
    norm_title = clean_unicode(title).strip().lower()
    if norm_text == norm_title:
        return True
    tail = norm_text[len(norm_title) :] if norm_text.startswith(norm_title) else None
    return tail is not None and len(re.findall(r"\w+", tail)) <= 8 and not _TERMINAL.search(tail)


def _is_masthead(text: str, source: str) -> bool:
    """The outlet's name, maybe with its slogan: "The Daily Manila Shimbun"."""
    name = clean_unicode(source).strip().lower().removeprefix("the ")
    text = clean_unicode(text).strip().lower().removeprefix("the ")
    return (
        len(name) > 3
        and text.startswith(name)
        and _words(text) <= _words(name) + 5
        and (not _TERMINAL.search(text))
    )


def _is_lone_question(paragraph: str) -> bool:
    text = clean_unicode(paragraph).strip()
    return text.endswith("?") and _words(text) <= 25 and '"' not in text and text.count("?") == 1


def _block_text(block: str) -> str:
    """One paragraph from a block of lines: lines joined with single spaces, except that each
    list item starts a line of its own behind a "• ", so a list stays a list (its items are
    sentences of their own, see `corpus.passages.sentence_spans`)."""
    lines: list[str] = []
    for raw_line in block.split("\n"):
        line = _MD_PREFIX.sub("", raw_line.strip())
        item = _LIST_ITEM.match(line)
        if item:
            lines.append(f"{BULLET} " + line[item.end() :])
        elif line and lines:
            lines[-1] += " " + line
        elif line:
            lines.append(line)
    return "\n".join(_MD_LINK.sub(r"\1", _WS.sub(" ", line)).strip() for line in lines).strip()


def split_paragraphs(raw: str) -> list[str]:
    """Blank-line separated paragraphs, each on one line with single spaces, markdown marks off
    (a list keeps one line per item)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", raw.replace("\r\n", "\n").replace("\r", "\n")):
        text = _block_text(block)
        if text:
            paragraphs.append(text)
    return paragraphs


def clean_paragraphs(paragraphs: list[str], title: str = "", source: str = "") -> list[str]:
    """Drop furniture, repeats of the headline, the outlet's masthead and paragraphs the page
    printed twice; a lone question next to furniture is a reader poll and goes too."""
    furniture = [
        is_furniture(p) or _repeats_title(p, title) or _is_masthead(p, source) for p in paragraphs
    ]
    for i, paragraph in enumerate(paragraphs):
        if furniture[i] or not _is_lone_question(paragraph):
            continue
        neighbours = furniture[max(i - 1, 0) : i] + furniture[i + 1 : i + 2]
        if any(neighbours):
            furniture[i] = True
    kept: list[str] = []
    seen: set[str] = set()
    for paragraph, junk in zip(paragraphs, furniture, strict=True):
        key = " ".join(clean_unicode(paragraph).lower().split())
        if junk or key in seen:  # a caption or pull quote printed twice
            continue
        seen.add(key)
        kept.append(paragraph)
    return kept
