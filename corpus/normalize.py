"""Text normalisation for *search* (embedding and BM25). Answers always quote the original text."""

from __future__ import annotations

import re
import unicodedata

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
# Zero-width and bidi control characters carry no meaning for search and can hide words.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
# "m-i-l-k", "n-o": single letters joined by hyphens spell a word out.
_SPELLED = re.compile(r"(?<![\w-])(?:[A-Za-z]-){1,}[A-Za-z](?![\w-])")
# "U.S.", "U.K.", "E.U." -> "US", "UK", "EU" so tokenisers keep them as one word.
_ACRONYM = re.compile(r"(?<![\w.])((?:[A-Za-z]\.){2,})(?!\w)")
_SPACES = re.compile(r"\s+")
_MONTHS = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "sept": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
# "Sept. 30", "aug 27" -> "September 30": only before a day number, where "Mar" can't be a word.
_MONTH_DAY = re.compile(
    r"\b(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?(?=\s+\d{1,2}\b)", re.I
)


# "G-20", "COVID-19", "TPP-11": a hyphenated label of letters and digits is one word ("G20"),
# so "g20" in a question finds it (the tokenizer drops the lone "G" otherwise).
_LABEL = re.compile(r"\b([A-Za-z]{1,5})-(\d{1,4})\b")
# "$250bn", "$250billion", "25%", "25 per cent": one spelling of an amount for search.
_AMOUNTS = [
    (re.compile(r"(\d)\s*(?:bn|billion)\b", re.I), r"\1 billion"),
    (re.compile(r"(\d)\s*(?:tn|trillion)\b", re.I), r"\1 trillion"),
    (re.compile(r"(\d)\s*(?:mn|mln|million)\b", re.I), r"\1 million"),
    (re.compile(r"(\d)\s*%"), r"\1 percent"),
    (re.compile(r"\bper\s+cent\b", re.I), "percent"),
]


def clean_unicode(text: str) -> str:
    """NFKC, straight quotes, plain dashes, no invisible characters."""
    text = unicodedata.normalize("NFKC", text)
    return _INVISIBLE.sub("", text).translate(_TRANSLATE)


def normalize_for_search(text: str) -> str:
    """The form of `text` that is embedded and tokenised: spelled-out words joined, acronyms
    without dots, one space between words."""
    text = clean_unicode(text)
    text = _SPELLED.sub(lambda m: m.group(0).replace("-", ""), text)
    text = _ACRONYM.sub(lambda m: m.group(1).replace(".", ""), text)
    text = _MONTH_DAY.sub(lambda m: _MONTHS[m.group(1).lower()], text)
    text = _LABEL.sub(r"\1\2", text)
    for pattern, replacement in _AMOUNTS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()
