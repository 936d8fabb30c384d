"""A server's own settings (``/settings``): where the bot answers, who counts as an admin, the
question cooldown; and when the bot left the server. One small SQLite file per server, in its
directory, so purging a server takes its settings with it.

A value not set for the server falls back to the environment's (`config.settings.Settings`),
so ``TRADETALK_CHANNEL_IDS`` and the rest stay the defaults of every server.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from config.settings import Settings
from errors import SettingError
from storage.tables import SqliteTables, Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS server_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Stored as JSON under these keys; a key that is absent means "the environment's default".
KEYS = ("channel_ids", "admin_role_ids", "cooldown_rate", "cooldown_seconds", "left_at")
COOLDOWN_RATE_RANGE = (1, 100)
COOLDOWN_SECONDS_RANGE = (1.0, 3600.0)
MAX_IDS = 50


@dataclass(frozen=True)
class ServerSettings:
    """What a server set for itself; None means "as the environment says"."""

    channel_ids: tuple[int, ...] | None = None  # () means every channel
    admin_role_ids: tuple[int, ...] | None = None
    cooldown_rate: int | None = None
    cooldown_seconds: float | None = None
    left_at: str | None = None  # ISO time the bot was removed from the server, if it was

    def effective(self, defaults: Settings) -> EffectiveSettings:
        return EffectiveSettings(
            channel_ids=frozenset(
                defaults.channel_ids if self.channel_ids is None else self.channel_ids
            ),
            admin_role_ids=frozenset(
                defaults.admin_role_ids if self.admin_role_ids is None else self.admin_role_ids
            ),
            cooldown_rate=defaults.cooldown_rate
            if self.cooldown_rate is None
            else self.cooldown_rate,
            cooldown_seconds=defaults.cooldown_seconds
            if self.cooldown_seconds is None
            else self.cooldown_seconds,
        )


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings the bot applies in one server."""

    channel_ids: frozenset[int]  # empty: every channel
    admin_role_ids: frozenset[int]
    cooldown_rate: int
    cooldown_seconds: float


CHANGEABLE = ("channel_ids", "admin_role_ids", "cooldown_rate", "cooldown_seconds")


def validated(current: ServerSettings, **changes: object) -> ServerSettings:
    """`current` with `changes` (a field of `CHANGEABLE` -> its new value; None: back to the
    environment's); `SettingError` (one line) if one is out of range. Whether ids name this
    server's channels and roles is the caller's to check (it knows the server)."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not server settings: {sorted(unknown)}")
    for key, name in (("channel_ids", "channels"), ("admin_role_ids", "admin roles")):
        ids = changes.get(key)
        if ids is not None:
            ids = tuple(dict.fromkeys(int(i) for i in ids))  # type: ignore[attr-defined]
            if len(ids) > MAX_IDS:
                raise SettingError(f"at most {MAX_IDS} {name}, not {len(ids)}")
            changes[key] = ids
    rate = changes.get("cooldown_rate")
    if rate is not None:
        low, high = COOLDOWN_RATE_RANGE
        if not low <= int(rate) <= high:  # type: ignore[call-overload]
            raise SettingError(f"the cooldown must allow {low} to {high} questions")
        changes["cooldown_rate"] = int(rate)  # type: ignore[call-overload]
    seconds = changes.get("cooldown_seconds")
    if seconds is not None:
        low_s, high_s = COOLDOWN_SECONDS_RANGE
        if not low_s <= float(seconds) <= high_s:  # type: ignore[arg-type]
            raise SettingError(f"the cooldown window must be {low_s:g} to {high_s:g} seconds")
        changes["cooldown_seconds"] = float(seconds)  # type: ignore[arg-type]
    return replace(current, **changes)  # type: ignore[arg-type]


class ServerSettingsStore:
    """The settings of one server: its ``settings.sqlite``, or its tables in the database
    (`storage.tables_for`). Calls block (tiny writes): the bot runs them in a thread. Reads are
    cached and re-read when the store may have changed (another process wrote it)."""

    def __init__(self, where: Path | Tables) -> None:
        self.tables = SqliteTables(where, SCHEMA) if isinstance(where, Path) else where
        self.path = where if isinstance(where, Path) else None
        self._lock = threading.Lock()
        self._cached: tuple[object, ServerSettings] | None = None

    def load(self) -> ServerSettings:
        stamp = self.tables.stamp()
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            loaded = self._read() if stamp is not None else ServerSettings()
            self._cached = (stamp, loaded)
            return loaded

    def _read(self) -> ServerSettings:
        if not self.tables.exists():
            return ServerSettings()
        try:
            rows = dict(self.tables.read("SELECT key, value FROM server_settings"))
        except sqlite3.DatabaseError:
            rows = {}  # a file without the table yet (created a moment ago)
        values = {k: json.loads(v) for k, v in rows.items() if k in KEYS}
        for key in ("channel_ids", "admin_role_ids"):
            if key in values:
                values[key] = tuple(int(i) for i in values[key])
        return ServerSettings(**values)

    def save(self, settings: ServerSettings) -> ServerSettings:
        """Write every value (None ones are removed), in one transaction."""
        with self._lock:
            with self.tables.transaction() as db:
                for key in KEYS:
                    value = getattr(settings, key)
                    if value is None:
                        db.execute("DELETE FROM server_settings WHERE key = ?", (key,))
                        continue
                    db.execute(
                        "INSERT INTO server_settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(list(value) if isinstance(value, tuple) else value)),
                    )
            self._cached = None
        return settings

    def mark_left(self, when: dt.datetime | None = None) -> ServerSettings:
        stamp = (when or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        return self.save(replace(self.load(), left_at=stamp))

    def mark_joined(self) -> ServerSettings:
        current = self.load()
        return self.save(replace(current, left_at=None)) if current.left_at else current
