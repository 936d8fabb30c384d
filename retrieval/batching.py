"""Micro-batching: questions arriving from many threads at once share one model call.

    engine = Engine(settings, encoder=BatchingEncoder(load_encoder(...)))

One model call on a batch of 20 short questions costs far less than 20 calls, and calls
from many threads at once only fight over the same cores. `BatchingEncoder` serialises short
encodes and merges the ones that queue up:

- a lone question on an idle encoder is encoded at once, on the caller's thread (no added
  latency, no hand-off to another thread);
- a question that arrives while a batch is being encoded waits; when that batch is done, one
  of the waiting callers encodes everything queued by then, plus whatever arrives within
  `window` seconds, up to `max_batch` texts, and hands each caller its rows.

Long encodes (index builds: more than `max_texts` texts) bypass the queue.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from retrieval.encoder import Encoder


@dataclass
class _Request:
    texts: list[str]
    arrived: float
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


RECENT_SIZES = 1024  # the bot runs for months: keep the latest batch sizes, not all of them


@dataclass
class BatchStats:
    """Counters for tests and the benchmark."""

    requests: int = 0  # encode calls that went through the queue
    batches: int = 0  # model calls made for them
    largest: int = 0  # most requests merged into one model call
    # Requests per model call, for the latest `RECENT_SIZES` calls, in order.
    sizes: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_SIZES))


class BatchingEncoder:
    """A thread-safe `Encoder` that merges concurrent short encodes into one call of `inner`."""

    def __init__(
        self,
        inner: Encoder,
        *,
        window: float = 0.002,
        max_batch: int = 64,
        max_texts: int = 8,
    ) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.window = window
        self.max_batch = max_batch
        self.max_texts = max_texts
        self.stats = BatchStats()
        self._pending: list[_Request] = []
        self._busy = False
        self._changed = threading.Condition()

    @property
    def backend(self) -> str:
        return str(getattr(self.inner, "backend", "torch"))

    @property
    def description(self) -> dict[str, str]:
        return dict(getattr(self.inner, "description", {}))

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        if len(texts) > self.max_texts:
            return self.inner.encode(texts, batch_size=batch_size)
        request = _Request(list(texts), time.monotonic())
        with self._changed:
            self._pending.append(request)
            self.stats.requests += 1
            if self._busy and self._queued_texts() >= self.max_batch:
                self._changed.notify_all()  # a leader collecting a burst need not wait longer
            waited = False
            while not request.done:
                if self._busy:
                    waited = True
                    self._changed.wait()
                    continue
                self._busy = True
                try:
                    self._lead(request, company=waited or len(self._pending) > 1)
                finally:
                    self._busy = False
                    self._changed.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _lead(self, request: _Request, *, company: bool) -> None:
        """Encode one batch from the queue (called holding the lock, with ``_busy`` set)."""
        if company and self.window > 0:
            # Others are asking too: give the rest of this burst a moment to arrive.
            deadline = request.arrived + self.window
            while self._queued_texts() < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        batch: list[_Request] = []
        count = 0
        for queued in self._pending:
            if batch and count + len(queued.texts) > self.max_batch:
                break
            batch.append(queued)
            count += len(queued.texts)
        del self._pending[: len(batch)]
        self.stats.batches += 1
        self.stats.largest = max(self.stats.largest, len(batch))
        self.stats.sizes.append(len(batch))
        self._changed.release()
        try:
            vectors = self.inner.encode([t for r in batch for t in r.texts])
            error = None
        except BaseException as exc:  # every caller in the batch gets the failure
            vectors, error = None, exc
        finally:
            self._changed.acquire()
        start = 0
        for queued in batch:
            if error is not None:
                queued.error = error
            else:
                assert vectors is not None
                queued.result = vectors[start : start + len(queued.texts)].copy()
            start += len(queued.texts)
            queued.done = True

    def _queued_texts(self) -> int:
        return sum(len(r.texts) for r in self._pending)
