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
    "build-files-written",  # the build's files are in builds/.tmp-*, without a manifest
    "manifest-written",  # the manifest too: the build is complete, still under .tmp-*
    "build-renamed",  # renamed to builds/<name>, `current` still on the previous build
    "current-switched",  # `current` points at the new build, old builds not yet removed
    "old-build-removal",  # an old build is half deleted
)

_CRASH_AT = os.environ.get("TRADETALK_TEST_CRASH_AT") or None


def reached(step: str) -> None:
    """Die here, as SIGKILL would (no cleanup, no flush), if the test asked for this step."""
    if _CRASH_AT is not None and step == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
