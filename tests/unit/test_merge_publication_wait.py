"""An admin's write while a background merge publishes: it waits the few milliseconds the
publication holds the write lock, instead of being told the index is busy; behind another
write it is still told at once (the bot's `wait=False`)."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import ARTICLES

from corpus.articles import read_article
from tradetalk.errors import IndexBusy

ARTICLE = ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"


def hold_write_lock(engine, seconds: float, *, merging: bool) -> threading.Thread:
    held = threading.Event()

    def hold() -> None:
        with engine._write_lock:
            engine._merge_publishing = merging
            held.set()
            time.sleep(seconds)
            engine._merge_publishing = False

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    return thread


def test_a_write_waits_for_a_merge_publication(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    holder = hold_write_lock(engine, 0.3, merging=True)
    result = engine.ingest_article(read_article(ARTICLE, max_bytes=2_000_000), wait=False)
    holder.join()
    assert result.status == "added"


def test_a_write_behind_another_write_is_told_at_once(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    holder = hold_write_lock(engine, 0.3, merging=False)
    with pytest.raises(IndexBusy):
        engine.ingest_article(read_article(ARTICLE, max_bytes=2_000_000), wait=False)
    holder.join()
