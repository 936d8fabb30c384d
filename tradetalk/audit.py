"""The audit log: who added, removed or reindexed what, and when (SQLite in the data dir).

Writes are tiny and synchronous; the bot calls them through ``asyncio.to_thread`` like every
other engine call. Refused admin attempts are recorded too."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class AuditEntry:
    at: str  # ISO timestamp, UTC
    actor: str  # "discord:<user id> (<name>)" or "cli:<login>"
    action: str  # "ingest", "remove", "reindex", ...
    target: str  # article id, URL, file name
    outcome: str  # "ok", "refused", "failed", "unchanged"
    detail: str = ""


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        db.execute(SCHEMA)
        return db

    def record(
        self, actor: str, action: str, target: str, outcome: str, detail: str = ""
    ) -> AuditEntry:
        entry = AuditEntry(
            at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail[:500],
        )
        try:
            with self._lock, contextlib.closing(self._connect()) as db, db:
                db.execute(
                    "INSERT INTO audit (at, actor, action, target, outcome, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        entry.at,
                        entry.actor,
                        entry.action,
                        entry.target,
                        entry.outcome,
                        entry.detail,
                    ),
                )
        except sqlite3.Error as exc:
            # To its callers (who log it and go on) a log that can't be written is an I/O
            # error, whatever SQLite calls it: "database or disk is full" on a full disk must
            # not replace the error the admin is being told.
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, f"could not write the audit log: {exc}", str(self.path)) from exc
        return entry

    def recent(self, limit: int = 20) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        with self._lock, self._connect() as db:
            rows = db.execute(
                "SELECT at, actor, action, target, outcome, detail FROM audit "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        db.close()
        return [AuditEntry(*row) for row in rows]
