"""Test-only crash points: ``TRADETALK_TEST_CRASH_AT=<step>`` kills the process at that step of
a write, so a test can show that a restart finds a complete build and every article file
accounted for, whichever step a real crash (power cut, OOM killer, ``kill -9``) hits.

The variable is read once, at import, so an unset hook costs one comparison with None per
step. It is not a setting: nothing but the crash-safety tests sets it."""

from __future__ import annotations

import os
import signal

# Every step of a write, in the order a write reaches them.
STEPS = (
    "article-file-written",  # ingest: the article files are saved, nothing embedded yet
    "article-file-removed",  # remove: the article files are gone, the index still has them
    "merge-files-written",  # merge: the merged segment's files in segments/.merging-*, no manifest
    "merge-written",  # merge: the merged segment is complete, still .merging-*, not listed
    "segment-files-written",  # a new segment's files are in segments/.tmp-*, no segment.json
    "segment-written",  # the segment is complete under its name; no build lists it yet
    "build-files-written",  # builds/.tmp-* exists, without a manifest
    "manifest-written",  # the manifest too: the build is complete, still under .tmp-*
    "build-renamed",  # renamed to builds/<name>, `current` still on the previous build
    "current-switched",  # `current` points at the new build, old builds not yet removed
    "old-build-removal",  # an old build is half deleted
    "old-segment-removal",  # a segment no kept build lists is half deleted
)

# The steps of a round of feed polling (feeds/poll.py), around the write it makes.
FEED_STEPS = (
    "feed-items-claimed",  # items marked claimed, their pages not yet fetched
    "feed-items-ingested",  # their articles are in a published build, not yet marked ingested
)

# The step a write reaches with a database (storage/postgres/): inside the transaction that
# publishes the build, just before it commits.
DATABASE_STEPS = ("database-commit",)

_CRASH_AT = os.environ.get("TRADETALK_TEST_CRASH_AT") or None


def reached(step: str) -> None:
    """Die here, as SIGKILL would (no cleanup, no flush), if the test asked for this step."""
    if _CRASH_AT is not None and step == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
