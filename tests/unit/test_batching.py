"""Micro-batching of concurrent query encodes: same vectors as encoding one by one, and batches
really form when many threads ask at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import HashingEncoder

from retrieval.batching import BatchingEncoder

QUESTIONS = [f"What did negotiator {n} say about dairy quota {n * 7}?" for n in range(40)]


def alone(texts: list[str]) -> np.ndarray:
    """Each text encoded by itself: what a caller gets without batching."""
    return np.concatenate([HashingEncoder().encode([t]) for t in texts])


class SlowHashingEncoder(HashingEncoder):
    """The hashing encoder with the per-call cost of a real model (a fixed delay per call plus a
    little per text, so merged calls are cheaper than separate ones), thread-safe, and, like the
    real model, giving a text the same vector whatever else is in its batch."""

    def __init__(self, per_call: float = 0.01) -> None:
        super().__init__()
        self.per_call = per_call
        self._lock = threading.Lock()
        self.concurrent = 0
        self.most_concurrent = 0

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        with self._lock:
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            time.sleep(self.per_call + 0.0005 * len(texts))
            with self._lock:
                self.calls.append(len(texts))
                return alone(texts)
        finally:
            with self._lock:
                self.concurrent -= 1


def ask_from_threads(encoder, questions: list[str], threads: int) -> dict[str, np.ndarray]:
    """Every question encoded from `threads` threads released at the same moment."""
    results: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)
    lock = threading.Lock()

    def worker(mine: list[str]) -> None:
        try:
            start.wait()
            for question in mine:
                vector = encoder.encode([question])
                with lock:
                    results[question] = vector
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(questions[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in pool)
    return results


def test_concurrent_questions_get_the_vectors_they_would_get_alone() -> None:
    batching = BatchingEncoder(SlowHashingEncoder())
    results = ask_from_threads(batching, QUESTIONS, threads=10)
    assert set(results) == set(QUESTIONS)
    for question, vector in results.items():
        np.testing.assert_array_equal(vector, alone([question]))
    assert batching.stats.largest > 1


def test_questions_asked_at_once_share_model_calls() -> None:
    inner = SlowHashingEncoder()
    batching = BatchingEncoder(inner)
    ask_from_threads(batching, QUESTIONS, threads=20)
    assert batching.stats.requests == len(QUESTIONS)
    assert sum(batching.stats.sizes) == len(QUESTIONS)
    assert batching.stats.largest > 1
    assert batching.stats.batches < len(QUESTIONS) / 2
    assert len(inner.calls) == batching.stats.batches
    assert inner.most_concurrent == 1  # the model is never called from two threads at once


def test_a_lone_question_is_encoded_at_once_on_its_own() -> None:
    inner = SlowHashingEncoder(per_call=0)
    batching = BatchingEncoder(inner, window=30.0)  # a wait here would hang the test
    for question in QUESTIONS[:3]:
        np.testing.assert_array_equal(batching.encode([question]), alone([question]))
    assert inner.calls == [1, 1, 1]


def test_multi_text_calls_keep_their_rows_and_bulk_calls_bypass_the_queue() -> None:
    inner = SlowHashingEncoder(per_call=0.005)
    batching = BatchingEncoder(inner, max_texts=4)
    pairs = [QUESTIONS[i : i + 2] for i in range(0, 20, 2)]
    results: dict[int, np.ndarray] = {}

    def worker(i: int) -> None:
        results[i] = batching.encode(pairs[i])

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(len(pairs))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    for i, pair in enumerate(pairs):
        np.testing.assert_array_equal(results[i], alone(pair))
    bulk = QUESTIONS[:10]
    np.testing.assert_array_equal(batching.encode(bulk), alone(bulk))
    assert inner.calls[-1] == 10 and batching.stats.requests == len(pairs)
    assert batching.encode([]).shape == (0, inner.dimension)


def test_a_failing_model_call_fails_every_question_in_its_batch_and_recovers() -> None:
    class Flaky(SlowHashingEncoder):
        fail = True

        def encode(self, texts, *, batch_size=64):
            if self.fail:
                raise RuntimeError("model crashed")
            return super().encode(texts, batch_size=batch_size)

    inner = Flaky(per_call=0)
    batching = BatchingEncoder(inner)
    with pytest.raises(RuntimeError, match="model crashed"):
        batching.encode(["what is blocking the deal?"])
    inner.fail = False
    results = ask_from_threads(batching, QUESTIONS[:8], threads=4)
    assert len(results) == 8


def test_it_stands_in_for_the_encoder_it_wraps(make_engine) -> None:
    inner = HashingEncoder()
    engine = make_engine(BatchingEncoder(inner))
    assert engine.index.manifest.model_id == inner.model_id
    answer = engine.ask("What is blocking the deal?")
    assert answer.hits and answer.hits[0].article.id in engine.index.articles


@pytest.mark.model
def test_real_model_vectors_match_when_batched(real_encoder) -> None:
    batching = BatchingEncoder(real_encoder)
    results = ask_from_threads(batching, QUESTIONS[:16], threads=8)
    for question, vector in results.items():
        np.testing.assert_allclose(vector, real_encoder.encode([question]), atol=1e-5)
    assert batching.stats.batches <= 16


@pytest.mark.model
def test_the_bot_engine_batches_questions_asked_at_once(settings) -> None:
    """What `tradetalk run` builds: the default (ONNX) model behind a batching encoder. Members
    asking at once get the answers they would have got one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from tradetalk.engine import Engine

    engine = Engine(settings, batch_queries=True)
    engine.open()
    assert isinstance(engine.encoder, BatchingEncoder)
    assert engine.index.manifest.backend == settings.backend == "onnx"
    questions = [
        "What is blocking the deal?",
        "Who is Lighthizer?",
        "What does the U.S. want on Chapter 19?",
        "When is the deadline?",
    ] * 6
    one_at_a_time = {q: engine.ask(q).text for q in questions[:4]}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(engine.ask, questions))
    assert [a.text for a in together] == [one_at_a_time[q] for q in questions]
    # Every question's encode went through the queue (the engine does not bypass it).
    assert engine.encoder.stats.requests >= len(questions) + 4
    engine.close()


def test_batch_stats_stay_bounded_in_a_long_run() -> None:
    """The bot's encoder lives for months: its record of batch sizes must not grow forever."""
    from retrieval.batching import RECENT_SIZES

    batching = BatchingEncoder(HashingEncoder())
    for n in range(RECENT_SIZES + 500):
        batching.encode([f"question {n}"])
    assert batching.stats.batches == RECENT_SIZES + 500
    assert len(batching.stats.sizes) == RECENT_SIZES
    assert list(batching.stats.sizes)[-1] == 1
