"""Servers the bot left: their data is kept ``TRADETALK_RETENTION_DAYS`` days, then purged.

A purge renames the server's directory out of the way first (``servers/.purging-<id>-…``, one
atomic rename), then deletes it, so no process ever reads half a library: it finds the whole
directory or none. A purge waits for nothing: if a write holds the server's index lock (a CLI
ingest, say), it says so and leaves the server for the next sweep.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from errors import ConfigError, IndexBusy, TradeTalkError, UnknownServer
from retrieval.manifest import read_manifest
from tenancy.layout import LibraryPaths, server_ids, server_paths, servers_root
from tenancy.server_settings import ServerSettingsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSummary:
    """One server's line in ``tradetalk servers``."""

    server_id: int
    articles: int  # articles of its own, in its current index build
    size_bytes: int  # everything in its directory
    left_at: str | None  # when the bot left it, if it did
    purge_after: str | None  # when its data goes, if the bot left


def _directory_size(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # deleted while we looked
    return total


def _article_count(root: Path) -> int:
    current = root / "index" / "current"
    try:
        return read_manifest(current.resolve()).article_count
    except (TradeTalkError, OSError):  # no build yet, or a damaged one: count the files
        folder = root / "articles"
        return sum(1 for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0


def purge_time(left_at: str, retention_days: float) -> dt.datetime:
    return dt.datetime.fromisoformat(left_at) + dt.timedelta(days=retention_days)


def _checked_servers(settings: Settings) -> Iterator[tuple[int, LibraryPaths]]:
    """Every server's paths; one whose library fails the check (a link out of it) is logged
    and left out, and the others go on."""
    for server_id in server_ids(settings.data_dir):
        try:
            yield server_id, server_paths(settings.data_dir, server_id)
        except ConfigError as exc:
            log.warning("leaving out server %s: %s", server_id, exc)


def server_summaries(settings: Settings) -> list[ServerSummary]:
    out = []
    for server_id, paths in _checked_servers(settings):
        left = ServerSettingsStore(paths.settings).load().left_at
        out.append(
            ServerSummary(
                server_id=server_id,
                articles=_article_count(paths.root),
                size_bytes=_directory_size(paths.root),
                left_at=left,
                purge_after=(
                    purge_time(left, settings.retention_days).isoformat(timespec="seconds")
                    if left
                    else None
                ),
            )
        )
    return out


def expired_servers(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Servers the bot left more than the retention period ago."""
    now = now or dt.datetime.now(dt.UTC)
    found = []
    for server_id, paths in _checked_servers(settings):
        left = ServerSettingsStore(paths.settings).load().left_at
        if left and purge_time(left, settings.retention_days) <= now:
            found.append(server_id)
    return found


def purge_server(settings: Settings, server_id: int) -> ServerSummary:
    """Delete everything of one server (its articles, index, logs, feedback and settings);
    what it held is returned. `UnknownServer` if it has nothing here, `IndexBusy` if a write
    to its index is running."""
    paths = server_paths(settings.data_dir, server_id)
    if not paths.root.is_dir():
        raise UnknownServer(f"no data for server {server_id} in {servers_root(settings.data_dir)}")
    summary = ServerSummary(
        server_id, _article_count(paths.root), _directory_size(paths.root), None, None
    )
    doomed = servers_root(settings.data_dir) / f".purging-{server_id}-{uuid.uuid4().hex[:8]}"
    lock_path = paths.index / ".lock"
    lock = lock_path.open("a") if paths.index.is_dir() else None
    try:
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusy(
                    f"server {server_id}'s index is being written; try again when it finishes"
                ) from None
        os.rename(paths.root, doomed)
    finally:
        if lock is not None:
            lock.close()
    shutil.rmtree(doomed, ignore_errors=True)
    log.info(
        "purged server %s (%d articles, %d bytes)", server_id, summary.articles, summary.size_bytes
    )
    return summary


def sweep_leftovers(settings: Settings) -> None:
    """Finish purges a crash interrupted (their directory was already renamed away)."""
    root = servers_root(settings.data_dir)
    if root.is_dir():
        for path in root.glob(".purging-*"):
            if path.is_symlink():  # a link renamed away by an older purge: the link alone goes
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)
