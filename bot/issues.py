"""Hooks to the catalogue of known negotiation issues (dairy, autos, dispute panels...).

The catalogue is not written yet. Until it is, these hooks return nothing and the bot simply says
an article touches no known issues. They are called in a worker thread, so they may read files.
"""

from __future__ import annotations

from retrieval.records import ArticleInfo


def touched_issues(article: ArticleInfo) -> list[str]:
    """Names of the known issues ``article`` touches, for the /ingest reply.

    HOOK: returns [] until the issue catalogue exists; the lead wires it in here.
    """
    return []


def covered_issues() -> list[str]:
    """Names of all known issues the articles cover, for /about.

    HOOK: returns [] until the issue catalogue exists; the lead wires it in here.
    """
    return []
