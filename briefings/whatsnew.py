"""``/whatsnew``: issues that gained developments since someone last asked.

The articles seen at the last check are kept in ``<data_dir>/briefings/seen-articles.json``
(article id -> content hash), written atomically; a Discord member's own last check in
``<data_dir>/briefings/seen-by-member/<user id>.json``, so one member asking never uses up the
news for the others. Before the first check, the bundled corpus counts as seen, so everything
an admin added is new."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from briefings.briefing import IssueUpdate
from briefings.issue_briefings import VECTOR_CACHE_DIR, IssueBriefings

SEEN_FILE = "seen-articles.json"
MEMBERS_DIR = "seen-by-member"
_lock = threading.Lock()


class SeenArticles:
    """The article set as of the last ``/whatsnew``."""

    def __init__(self, data_dir: Path, member: int | None = None) -> None:
        folder = data_dir / VECTOR_CACHE_DIR
        self.path = (
            folder / SEEN_FILE if member is None else folder / MEMBERS_DIR / f"{member}.json"
        )

    def load(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None

    def save(self, articles: Mapping[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(dict(sorted(articles.items())), handle, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def since_last_check(briefings: IssueBriefings, member: int | None = None) -> list[IssueUpdate]:
    """Issues with developments from articles added or changed since the previous call (by
    `member`, a Discord user id, when given: each member's news is their own)."""
    seen = SeenArticles(briefings.data_dir, member)
    with _lock:
        before = seen.load()
        if before is None:
            before = {
                a.id: a.content_hash for a in briefings.engine.index.articles.values() if a.bundled
            }
        found = briefings.whats_new(before)
        seen.save(found.articles)
    return list(found.updates)
