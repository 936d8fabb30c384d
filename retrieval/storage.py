"""Index builds on disk, published atomically.

Layout under the index directory::

    builds/<build-id>/   one complete build each (manifest.json written last)
    current -> builds/<build-id>   a symlink, switched with os.replace (atomic)

A crash at any moment leaves ``current`` pointing at a complete build; a half-written build
is a ``.tmp-*`` directory that the next start deletes. Damaged builds are skipped at load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from retrieval.index import IndexData, PassageIndex
from tradetalk.errors import IndexCorrupt

log = logging.getLogger(__name__)
KEEP_PREVIOUS = 1  # an older complete build to fall back on if the current one is damaged


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds = root / "builds"
        self.current_link = root / "current"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise writers across processes (the bot and a CLI ingest, say)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def current_dir(self) -> Path | None:
        if not self.current_link.is_symlink():
            return None
        target = self.builds / Path(os.readlink(self.current_link)).name
        return target if target.is_dir() else None

    def publish(self, data: IndexData, *, index_kind: str | None = None) -> Path:
        """Write `data` as a new build and make it current."""
        self.builds.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}"
        tmp = self.builds / f".tmp-{name}"
        try:
            data.write(tmp, index_kind=index_kind)
            final = self.builds / name
            os.rename(tmp, final)
            _fsync_dir(self.builds)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        link_tmp = self.root / f".current-{name}"
        os.symlink(Path("builds") / name, link_tmp)
        os.replace(link_tmp, self.current_link)
        _fsync_dir(self.root)
        self.prune()
        return final

    def prune(self) -> None:
        """Drop crash leftovers and builds older than the ones worth keeping."""
        if not self.builds.is_dir():
            return
        current = self.current_dir()
        complete = sorted(
            (p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
            reverse=True,
        )
        keep = {current} | set([p for p in complete if p != current][:KEEP_PREVIOUS])
        for path in self.builds.iterdir():
            if path in keep:
                continue
            if path.name.startswith(".tmp-") or path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
        for link in self.root.glob(".current-*"):
            link.unlink(missing_ok=True)

    def load(self, *, verify: bool = True) -> PassageIndex | None:
        """The current build, else the newest older build that checks out, else None."""
        current = self.current_dir()
        candidates = [current] if current else []
        if self.builds.is_dir():
            candidates += sorted(
                (
                    p
                    for p in self.builds.iterdir()
                    if p.is_dir() and not p.name.startswith(".") and p != current
                ),
                reverse=True,
            )
        for directory in candidates:
            try:
                index = PassageIndex(directory, verify=verify)
            except IndexCorrupt as exc:
                log.warning(
                    "skipping damaged index build %s: %s", directory.name, exc, exc_info=True
                )
                continue
            if directory != current:
                log.warning("current index unusable; serving older build %s", directory.name)
            return index
        return None
