"""A question the library can answer, to suggest when it can't answer the one asked.

Candidates come from what the library is about: the issues of its catalogue (those sharing a
word with the question first) and its newest articles' headlines. Each is asked for real and
only one the articles answer is suggested, so the suggestion never leads to another "not
covered". Blocking (it asks the engine): run it in a worker thread."""

from __future__ import annotations

import logging
import re

from retrieval.tokenize import tokenize
from tenancy import Libraries
from tradetalk.errors import TradeTalkError

log = logging.getLogger(__name__)

TRIES = 4  # questions asked at most before giving up on a suggestion
_ASIDE = re.compile(r"\s*\([^)]*\)")


def _about(title: str) -> str:
    """An issue title as the object of a question: "Auto tariffs (Section 232)" -> "auto
    tariffs" (a word in capitals, a name or an acronym, keeps them)."""
    text = _ASIDE.sub("", title).strip()
    first, _, rest = text.partition(" ")
    if first[:1].isupper() and first[1:].islower() and rest and not rest[:1].isdigit():
        text = first.lower() + " " + rest
    return text


def candidates(libraries: Libraries, server_id: int | None, question: str) -> list[str]:
    asked = set(tokenize(question))
    try:
        issues = list(libraries.briefings(server_id).catalogue().issues)
    except TradeTalkError as exc:  # a broken issues.toml: /issue says what is wrong
        log.info("no issue suggestions: %s", exc)
        issues = []
    issues.sort(key=lambda i: -len(asked & set(tokenize(" ".join((i.title, *i.terms))))))
    found = [f"What is the latest on {_about(issue.title)}?" for issue in issues]
    articles = sorted(
        (a for a in libraries.articles(server_id) if not a.duplicate_of),
        key=lambda a: (a.date or "", a.id),
        reverse=True,
    )
    found += [f"What happened with {_about(a.title)}?" for a in articles[:2]]
    return list(dict.fromkeys(found))


def suggest_question(libraries: Libraries, server_id: int | None, question: str) -> str | None:
    """A question the articles of `server_id` (and the global library) answer, or None."""
    for candidate in candidates(libraries, server_id, question)[:TRIES]:
        try:
            if not libraries.ask(server_id, candidate).abstained:
                return candidate
        except TradeTalkError:
            continue
    return None
