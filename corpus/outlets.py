"""How a fetched page's outlet is shown: the outlet's name when the site it was read from is
that outlet's own, else the site, with the name the page gives itself beside it.

The protection stays where it is (`corpus.articles`): a fetched article's identity and link are
what TradeTalk fetched, never what the page declares. This only decides the words a citation
shows. "www.reuters.com" declaring "Reuters" is Reuters; "news.example.org" declaring
"Bay Street Bulletin" is shown as "news.example.org, as Bay Street Bulletin" (the site first,
so no page passes itself off as another outlet, and no accusation against either)."""

from __future__ import annotations

import re

from corpus.normalize import clean_unicode

# Second-level labels under a country code ("bbc.co.uk", "abc.net.au").
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"})
_ASIDE = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[a-z0-9]+")
# A word an outlet's name may carry that its site leaves out ("BBC News" at bbc.co.uk).
_GENERIC = ("news", "online", "daily", "wire", "media", "tv", "radio", "network", "magazine")


def site_name(host: str) -> str:
    """The registered name of a host: "www.bnnbloomberg.ca" -> "bnnbloomberg",
    "news.bbc.co.uk" -> "bbc"; "" for an address."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    if len(labels) < 2 or all(label.isdigit() for label in labels):
        return ""
    labels = labels[:-1]  # the top-level domain
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    return labels[-1]


def _forms(outlet: str) -> set[str]:
    """The ways an outlet's name is written as a site name: "The New York Times" ->
    thenewyorktimes, newyorktimes, nytimes, tnyt, nyt."""
    words = _WORD.findall(clean_unicode(_ASIDE.sub(" ", outlet)).lower())
    if not words:
        return set()
    bare = words[1:] if words[0] == "the" and len(words) > 1 else words
    forms = {"".join(words), "".join(bare)}
    for w in (words, bare):
        if len(w) > 1:
            forms.add("".join(x[0] for x in w))  # initials: "nyt"
            forms.add("".join(x[0] for x in w[:-1]) + w[-1])  # "nytimes"
    return {f for f in forms if f}


def is_outlets_own(host: str, outlet: str) -> bool:
    """Is `host` the outlet's own site: its registered name is the outlet's name as sites
    write it ("bnnbloomberg" for BNN Bloomberg, "nytimes" for The New York Times), or that
    name and a generic word ("BBC News" at bbc.co.uk). A site that merely contains the name
    ("reuters-world.biz") is not the outlet's."""
    name = site_name(host)
    if not name:
        return False
    return any(form == name or form in {name + g for g in _GENERIC} for form in _forms(outlet))


def outlet_label(host: str, claimed: str | None) -> str:
    """What a citation shows as the outlet of a page fetched from `host` that names itself
    `claimed`."""
    if not claimed or claimed.strip().lower() == host.lower():
        return host
    if is_outlets_own(host, claimed):
        return claimed
    return f"{host}, as {claimed}"
