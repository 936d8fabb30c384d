"""Merging segments, in the background: few segments keep searches fast, and an ingest never
waits for a merge.

Policy (`plan`): segments fall into size tiers, each `MERGE_FACTOR` times the one below (every
segment under `SMALLEST_TIER` passages is tier 0: an article is 10 to 60). When `MERGE_FACTOR`
neighbouring segments share a tier, they are merged into one of the next tier, as a binary
counter carries; a segment more than `MAX_REMOVED_SHARE` removed is rewritten alone. Every
passage is so rewritten about log3(library / 256) times in its life, and a library of a
million passages has a dozen segments at most.

A merge reads the segments of a snapshot (the build served when it starts) and writes the
merged one as ``segments/.merging-<id>`` without holding the write lock, so ingests and
removals go on meanwhile. Only the publication takes the lock: if the build current by then
still lists every merged segment, the next build lists the merged segment in their place, and
articles removed during the merge are removed from it; otherwise (a rebuild came first) the
merge is dropped. Nothing is re-embedded or re-tokenised: vectors, postings and records are
copied, minus removed articles.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval import crashpoints
from retrieval.dense import DenseIndex, choose_kind
from retrieval.index import PassageIndex
from retrieval.lexical import Postings
from retrieval.manifest import SegmentEntry, SegmentManifest, read_segment_manifest
from retrieval.records import copy_records
from retrieval.segment import (
    BM25_DIR,
    DENSE,
    PASSAGE_VECTORS,
    RECORDS,
    SENTENCE_PTR,
    SENTENCE_VECTORS,
    _Summary,
    finish_segment,
    new_segment_id,
)
from retrieval.storage import IndexStorage, _fsync_dir, no_space_error, out_of_space

MERGE_FACTOR = 3
SMALLEST_TIER = 256  # passages
MAX_REMOVED_SHARE = 0.25
_COPY_ROWS = 65_536  # vectors copied per step, so a big merge never holds two copies


def tier(passages: int) -> int:
    if passages < SMALLEST_TIER:
        return 0
    return 1 + int(math.log(passages / SMALLEST_TIER, MERGE_FACTOR))


def plan(sizes: list[int], totals: list[int]) -> tuple[int, int] | None:
    """Which neighbouring segments to merge next, as (first, stop), or None. `sizes` are the
    passages each segment serves, `totals` the passages it holds (removed ones included)."""
    tiers = [tier(s) for s in sizes]
    stop = len(sizes)
    while stop > 0:  # the newest run of one tier first: that is where ingests land
        start = stop - 1
        while start > 0 and tiers[start - 1] == tiers[stop - 1]:
            start -= 1
        if stop - start >= MERGE_FACTOR:
            return (stop - MERGE_FACTOR, stop)
        stop = start
    for n, (size, total) in enumerate(zip(sizes, totals, strict=True)):
        if total and (total - size) > MAX_REMOVED_SHARE * total:
            return (n, n + 1)
    return None


def plan_for(index: PassageIndex) -> tuple[int, int] | None:
    parts = index.parts
    return plan([p.count for p in parts], [len(p.segment) for p in parts])


@dataclass(frozen=True)
class MergedSegment:
    directory: Path  # segments/.merging-<id>, complete
    manifest: SegmentManifest
    digest: str
    replaces: tuple[str, ...]  # the merged segments' ids, in order
    removed_before: dict[str, frozenset[str]]  # what each had removed at the snapshot


def write_merged(storage: IndexStorage, index: PassageIndex, start: int, stop: int):
    """Merge segments `start:stop` of `index` (a leased snapshot) into a new segment, written
    as ``segments/.merging-<id>``. Call holding `IndexStorage.merge_lock`, not the write lock."""
    parts = index.parts[start:stop]
    directory = storage.segments / f".merging-{new_segment_id()}"
    directory.mkdir(parents=True)
    try:
        total = sum(p.count for p in parts)
        sentence_total = sum(int(p.sentence_ptr[-1]) for p in parts)
        dimension = index.manifest.dimension
        vectors = _copy_rows(
            directory / PASSAGE_VECTORS,
            [(p.segment.passage_vectors, p.live) for p in parts],
            total,
            dimension,
        )
        _copy_rows(
            directory / SENTENCE_VECTORS,
            [(p.segment.sentence_vectors, p.live_sentences) for p in parts],
            sentence_total,
            dimension,
        )
        ptr = [np.zeros(1, np.int64)]
        offset = 0
        for part in parts:
            ptr.append(part.sentence_ptr[1:] + offset)
            offset += int(part.sentence_ptr[-1])
        np.save(directory / SENTENCE_PTR, np.concatenate(ptr).astype(np.int64), allow_pickle=False)
        postings = Postings.concatenate(
            [
                p.segment.postings
                if p.live is None
                else p.segment.postings.subset(_mask(len(p.segment), p.live))
                for p in parts
            ]
        )
        postings.save(directory / BM25_DIR)
        kind = choose_kind(total)
        DenseIndex.build(np.asarray(vectors), kind).save(directory / DENSE)
        del vectors
        ranges = []
        for part in parts:
            kept = [
                (s.first_row, s.first_row + s.info.passage_count)
                for a, s in part.segment.articles.items()
                if a not in part.removed
            ]
            ranges.append((part.segment.directory / RECORDS, kept))
        copy_records(directory / RECORDS, ranges)
        crashpoints.reached("merge-files-written")
        articles = [
            s.info for p in parts for a, s in p.segment.articles.items() if a not in p.removed
        ]
        sources: dict[str, list[str]] = {}
        for part in parts:
            for key, (sha, article_id) in part.segment.manifest.sources.items():
                if article_id not in part.removed:
                    sources[key] = [sha, article_id]
        finish_segment(
            directory, _Summary(total, sentence_total, articles, kind, dimension, sources)
        )
        manifest, digest = read_segment_manifest(directory)
    except BaseException as exc:
        full = out_of_space(exc, directory)  # asked before the partial files go
        shutil.rmtree(directory, ignore_errors=True)
        if full:
            raise no_space_error(exc, directory) from exc
        raise
    crashpoints.reached("merge-written")
    return MergedSegment(
        directory,
        manifest,
        digest,
        tuple(p.segment.id for p in parts),
        {p.segment.id: p.removed for p in parts},
    )


def publish_merged(storage: IndexStorage, current: PassageIndex, merged: MergedSegment):
    """Make the merged segment part of the next build after `current` (the build current now:
    call holding the write lock). Returns the new build's directory, or None when `current`
    no longer lists the merged segments (then the merged one is deleted)."""
    entries = list(current.manifest.segments)
    ids = [e.id for e in entries]
    n = len(merged.replaces)
    try:
        at = ids.index(merged.replaces[0])
    except ValueError:
        at = -1
    if at < 0 or tuple(ids[at : at + n]) != merged.replaces:
        shutil.rmtree(merged.directory, ignore_errors=True)
        return None
    # Articles removed while the merge ran are still in the merged segment: remove them there.
    later = set()
    for entry in entries[at : at + n]:
        later |= set(entry.removed) - merged.removed_before[entry.id]
    final = storage.segments / merged.manifest.id
    os.rename(merged.directory, final)
    _fsync_dir(storage.segments)
    crashpoints.reached("segment-written")
    entry = SegmentEntry(merged.manifest.id, merged.digest, tuple(sorted(later)))
    others = [len(p.segment) for p in current.parts[:at] + current.parts[at + n :]]
    kind = current.manifest.index_kind
    if merged.manifest.passage_count >= max(others, default=0):
        kind = merged.manifest.index_kind
    manifest = replace(
        current.manifest,
        index_kind=kind,
        segments=(*entries[:at], entry, *entries[at + n :]),
    )
    return storage.publish_manifest(manifest)


def _mask(count: int, live: np.ndarray) -> np.ndarray:
    keep = np.zeros(count, bool)
    keep[live] = True
    return keep


def _copy_rows(path: Path, sources: list, total: int, dimension: int) -> np.ndarray:
    """Write the chosen rows of each source array, in order, into one ``.npy`` file, a block
    at a time (a merge of a million passages never holds the vectors twice); the file,
    memory-mapped."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(total, dimension))
    at = 0
    for array, rows in sources:
        count = len(array) if rows is None else len(rows)
        for start in range(0, count, _COPY_ROWS):
            stop = min(count, start + _COPY_ROWS)
            block = array[start:stop] if rows is None else array[rows[start:stop]]
            out[at : at + stop - start] = block
            at += stop - start
    out.flush()
    return out
