"""Index builds on disk, published atomically, shared by every process using one data dir.

Layout under the index directory::

    segments/<stamp>-<id>/              immutable segments (segment.json written last)
    builds/<generation>-<stamp>-<id>/   one complete build each: manifest.json, which lists
                                        its segments (and the articles each no longer serves)
    current -> builds/<name>            a symlink, switched with os.replace (atomic)
    .lock                               flock: one writer at a time, across processes
    .merge.lock                         flock: one merge at a time (merging.py)

A change writes at most one new segment, then a new build that lists the segments it keeps
plus the new one, so adding an article writes that article and a few kilobytes of manifest,
whatever the size of the library.

A crash at any moment leaves ``current`` pointing at a complete build whose segments are all
complete; a half-written build or segment is a ``.tmp-*`` directory, a half-deleted one an
``.old-*`` directory, a merge cut short a ``.merging-*`` one, all deleted by the next writer, as
are segments no kept build lists. Damaged builds are skipped at load.

Each build's generation number (one more than the newest build on disk when it was written)
leads its name, so a serving process learns whether another process published a newer build
from one ``readlink`` of ``current``: cheap enough to do before every question.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from errors import IndexBusy, IndexCorrupt, IndexOutdated
from retrieval import crashpoints
from retrieval.index import SEGMENTS_DIR, IndexData, PassageIndex
from retrieval.manifest import (
    Manifest,
    SegmentEntry,
    SegmentManifest,
    fingerprint_add,
    read_manifest,
    read_segment_manifest,
    write_manifest,
)
from retrieval.segment import Segment, SegmentContent, new_segment_id, write_segment

log = logging.getLogger(__name__)
KEEP_PREVIOUS = 1  # an older complete build to fall back on if the current one is damaged
_GENERATION = re.compile(r"^(\d{8})-")  # builds of format 4 and older have none: generation 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Less free space than this when a write fails: the disk filled up under it.
LOW_SPACE_BYTES = 1 << 20


def out_of_space(exc: BaseException, directory: Path) -> bool:
    """Did a write into `directory` fail because the disk is full? `ENOSPC` says so, and so
    does SQLite's SQLITE_FULL; but NumPy's short write ("384000 requested and 178144
    written") and FAISS's write check lose the errno, so for any failed write the disk is asked
    how much room is left, at once, before the partial files are deleted."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    if not isinstance(exc, OSError | RuntimeError | sqlite3.Error):
        return False
    try:
        found = os.statvfs(directory if directory.exists() else directory.parent)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < LOW_SPACE_BYTES


def no_space_error(exc: BaseException, directory: Path) -> OSError:
    """What a write that ran out of disk raises: an `OSError` with `ENOSPC`, whatever the
    library that wrote said, so every caller reports it the same way."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory))


def generation_of(name: str) -> int:
    match = _GENERATION.match(name)
    return int(match.group(1)) if match else 0


def _newest_first(path: Path) -> tuple[int, str]:
    return generation_of(path.name), path.name


@contextlib.contextmanager
def try_file_lock(path: Path) -> Iterator[bool]:
    """An exclusive flock on `path` across processes, without waiting: yields True holding
    it, or False at once if another holder has it."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class IndexStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds = root / "builds"
        self.segments = root / SEGMENTS_DIR
        self.current_link = root / "current"
        self._current_path = str(self.current_link)  # asked before every question: no Path

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """Serialise writers across processes (the bot and a CLI ingest, say). With
        ``wait=False`` a write in another process raises `IndexBusy` at once."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise IndexBusy(
                    "another TradeTalk process is writing the index; try again when it finishes"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- what is current -------------------------------------------------------------------

    def current_name(self) -> str | None:
        """The name of the build ``current`` points at (one system call, no checks)."""
        try:
            return os.readlink(self._current_path).rpartition("/")[2]
        except OSError:  # missing, or not a symlink
            return None

    def current_dir(self) -> Path | None:
        name = self.current_name()
        if name is None:
            # A backup restored without symlinks leaves `current` as a real copy of a build.
            if self.current_link.is_dir() and not self.current_link.is_symlink():
                return self.current_link
            return None
        target = self.builds / name
        return target if target.is_dir() else None

    def complete_builds(self) -> list[Path]:
        """Build directories (complete or damaged, never .tmp-/.old-), newest first."""
        if not self.builds.is_dir():
            return []
        found = [p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return sorted(found, key=_newest_first, reverse=True)

    def recover(self) -> None:
        """Make ``current`` a symlink again (call holding the lock). A real directory there (a
        backup restored without symlinks) becomes a build of its own, the newest; a plain file
        or a dangling link is dropped, and loading falls back on the newest good build."""
        link = self.current_link
        if link.is_symlink() or not os.path.lexists(link):
            return
        if link.is_dir():
            self.builds.mkdir(parents=True, exist_ok=True)
            name = self._new_name()
            os.rename(link, self.builds / name)
            self._point_current_at(name)
            log.warning("index/current was a directory, not a link; kept it as build %s", name)
        else:
            link.unlink()
            log.warning("index/current was a file, not a link; removed it")

    # -- writing ---------------------------------------------------------------------------

    def _new_name(self) -> str:
        newest = max((generation_of(p.name) for p in self.complete_builds()), default=0)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        return f"{newest + 1:08d}-{stamp}-{uuid.uuid4().hex[:8]}"

    def _point_current_at(self, name: str) -> None:
        link_tmp = self.root / f".current-{name}"
        link_tmp.unlink(missing_ok=True)
        os.symlink(Path("builds") / name, link_tmp)
        os.replace(link_tmp, self.current_link)
        _fsync_dir(self.root)

    def write_segment(
        self, content: SegmentContent, *, index_kind: str | None = None
    ) -> tuple[SegmentManifest, str]:
        """Write a new segment (complete before it gets its name); its manifest and digest.
        Call holding the lock: until a build lists it, the next prune may delete it."""
        self.segments.mkdir(parents=True, exist_ok=True)
        segment_id = new_segment_id()
        tmp = self.segments / f".tmp-{segment_id}"
        final = self.segments / segment_id
        try:
            write_segment(tmp, content, index_kind=index_kind)
            os.rename(tmp, final)
            _fsync_dir(self.segments)
        except BaseException as exc:
            full = out_of_space(exc, tmp)  # asked before the partial files go
            shutil.rmtree(tmp, ignore_errors=True)
            if full:
                raise no_space_error(exc, tmp) from exc
            raise
        crashpoints.reached("segment-written")
        return read_segment_manifest(final)

    def publish(self, data: IndexData, *, index_kind: str | None = None) -> Path:
        """Write `data` as a new build of one new segment and make it current. Call holding
        the lock."""
        self.recover()
        segment, digest = self.write_segment(data.segment_content(), index_kind=index_kind)
        manifest = Manifest(
            model_id=data.model_id,
            dimension=data.dimension,
            backend=data.backend,
            encoder=data.encoder,
            passage_count=segment.passage_count,
            sentence_count=segment.sentence_count,
            article_count=segment.article_count,
            corpus_fingerprint=segment.fingerprint,
            index_kind=segment.index_kind,
            built_at=_now(),
            segments=(SegmentEntry(segment.id, digest),),
        )
        return self.publish_manifest(manifest)

    def publish_change(
        self, index: PassageIndex, added: IndexData | None, removed: set[str]
    ) -> Path:
        """The next build after `index`: the same segments, the `removed` articles no longer
        served (removed, or replaced by a version in `added`), and `added` (passages numbered
        after `index`'s) in a new segment. Embeds nothing, copies nothing of `index`. Call
        holding the lock."""
        self.recover()
        removed = {a for a in removed if a in index.articles}
        entries = []
        for part in index.parts:
            gone = {a for a in removed if a in part.segment.articles}
            entries.append(
                SegmentEntry(
                    part.segment.id, part.segment.digest, tuple(sorted(part.removed | gone))
                )
            )
        passages, sentences = len(index), int(index.sentence_ptr[-1])
        for article_id in removed:
            rows = index.article_rows(article_id)
            passages -= len(rows)
            sentences -= int(index.sentence_ptr[rows.stop] - index.sentence_ptr[rows.start])
        fingerprint = fingerprint_add(
            index.manifest.corpus_fingerprint,
            *((a, index.articles[a].content_hash) for a in removed),
            sign=-1,
        )
        articles = len(index.articles) - len(removed)
        kind = index.manifest.index_kind
        if added is not None and added.passages:
            segment, digest = self.write_segment(added.segment_content(outside=index))
            entries.append(SegmentEntry(segment.id, digest))
            passages += segment.passage_count
            sentences += segment.sentence_count
            articles += segment.article_count
            fingerprint = _sum_fingerprints(fingerprint, segment.fingerprint)
            if segment.passage_count > max((len(p.segment) for p in index.parts), default=0):
                kind = segment.index_kind
        manifest = replace(
            index.manifest,
            passage_count=passages,
            sentence_count=sentences,
            article_count=articles,
            corpus_fingerprint=fingerprint,
            index_kind=kind,
            built_at=_now(),
            segments=tuple(entries),
        )
        return self.publish_manifest(manifest)

    def publish_manifest(self, manifest: Manifest) -> Path:
        """Write a build holding `manifest` (its segments already on disk) and make it
        current. Call holding the lock."""
        self.builds.mkdir(parents=True, exist_ok=True)
        name = self._new_name()
        tmp = self.builds / f".tmp-{name}"
        try:
            tmp.mkdir()
            crashpoints.reached("build-files-written")
            write_manifest(tmp, replace(manifest, generation=generation_of(name), files={}))
            crashpoints.reached("manifest-written")
            final = self.builds / name
            os.rename(tmp, final)
            _fsync_dir(self.builds)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        crashpoints.reached("build-renamed")
        self._point_current_at(name)
        crashpoints.reached("current-switched")
        self.prune()
        return final

    def merge_lock(self) -> contextlib.AbstractContextManager[bool]:
        """One merge at a time, across processes; yields False (at once) if one is running."""
        self.root.mkdir(parents=True, exist_ok=True)
        return try_file_lock(self.root / ".merge.lock")

    def prune(self) -> None:
        """Drop crash leftovers, builds older than the ones worth keeping, and segments no kept
        build lists. A build or segment another process still serves may go too: its files
        stay readable to it until it closes them (POSIX), and it moves to the newer build
        before its next question."""
        if not self.builds.is_dir():
            return
        current = self.current_dir()
        older = [p for p in self.complete_builds() if p != current]
        keep = {current, *older[:KEEP_PREVIOUS]}
        for path in self.builds.iterdir():
            if path in keep:
                continue
            if path.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_dir():
                self._discard(path)
        for link in self.root.glob(".current-*"):
            link.unlink(missing_ok=True)
        self._prune_segments([p for p in keep if p is not None])

    def _prune_segments(self, builds: list[Path]) -> None:
        if not self.segments.is_dir():
            return
        listed: set[str] = set()
        for build in builds:
            try:
                listed.update(e.id for e in read_manifest(build).segments)
            except IndexCorrupt:
                continue
        with self.merge_lock() as no_merge_running:
            for path in self.segments.iterdir():
                if path.name.startswith((".tmp-", ".old-")):
                    shutil.rmtree(path, ignore_errors=True)
                elif path.name.startswith(".merging-"):
                    if no_merge_running:  # else a merge in progress is writing it
                        shutil.rmtree(path, ignore_errors=True)
                elif path.is_dir() and path.name not in listed:
                    doomed = self.segments / f".old-{path.name}"
                    os.rename(path, doomed)
                    (doomed / "segment.json").unlink(missing_ok=True)
                    crashpoints.reached("old-segment-removal")
                    shutil.rmtree(doomed, ignore_errors=True)

    def _discard(self, build: Path) -> None:
        # Renamed first, so a build cut short mid-deletion is never mistaken for a complete one.
        doomed = self.builds / f".old-{build.name}"
        os.rename(build, doomed)
        (doomed / "manifest.json").unlink(missing_ok=True)
        crashpoints.reached("old-build-removal")
        shutil.rmtree(doomed, ignore_errors=True)

    # -- loading ---------------------------------------------------------------------------

    def open_build(
        self, directory: Path, *, verify: bool = True, reuse: Iterable[Segment] = ()
    ) -> PassageIndex:
        """One build, checked; raises `IndexCorrupt` if it is damaged, incomplete or gone (a
        writer in another process may have pruned it a moment ago). Segments in `reuse`
        (open already, checked when they were opened) are shared, not read again."""
        try:
            return PassageIndex(directory, verify=verify, reuse=reuse)
        except IndexCorrupt:
            raise
        except (OSError, RuntimeError, ValueError) as exc:  # faiss raises RuntimeError
            raise IndexCorrupt(f"index build {directory.name} cannot be read: {exc}") from exc

    def load(self, *, verify: bool = True, reuse: Iterable[Segment] = ()) -> PassageIndex | None:
        """The current build, else the newest older build that checks out, else None."""
        current = self.current_dir()
        candidates = [current] if current else []
        candidates += [p for p in self.complete_builds() if p != current]
        for directory in candidates:
            try:
                index = self.open_build(directory, verify=verify, reuse=reuse)
            except IndexOutdated as exc:
                log.info("not using index build %s: %s", directory.name, exc)
                continue
            except IndexCorrupt as exc:
                log.warning(
                    "skipping damaged index build %s: %s", directory.name, exc, exc_info=True
                )
                continue
            if directory != current:
                log.warning("current index unusable; serving older build %s", directory.name)
            return index
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sum_fingerprints(a: str, b: str) -> str:
    return f"{(int(a or '0', 16) + int(b or '0', 16)) % (1 << 256):064x}"
