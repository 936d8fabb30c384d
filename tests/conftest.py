"""Shared fixtures: isolation from the developer's environment, encoders, engines.

Nothing reads the real environment: every test runs in its own working directory (so no
``.env`` is picked up) with ``TRADETALK_*`` variables removed, and its data dir under tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = FIXTURES / "articles"
SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export (the default backend) per test session, shared by every data dir: an
    export takes ~15 s, and what it does is tested on its own (test_onnx_backend)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TRADETALK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRADETALK_MODEL_CACHE_DIR", str(model_cache))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield


class HashingEncoder:
    """A tiny deterministic encoder for unit tests: hashed bag of stemmed words, so texts that
    share words are similar. Not a stand-in for the real model's quality."""

    model_id = "hashing-test-encoder@1"
    dimension = 64

    def __init__(self) -> None:
        self.calls: list[int] = []  # texts per encode call, to prove what was (re-)embedded

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                slot = int(hashlib.md5(word[:5].encode()).hexdigest(), 16) % self.dimension
                out[row, slot] += 1.0
            out[row, row % 3] += 0.01  # never the zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @property
    def embedded(self) -> int:
        return sum(self.calls)


class CountingEncoder:
    """Wraps the real encoder and counts the texts it embeds (the model itself is untouched)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.backend = getattr(inner, "backend", "torch")  # an index is built per backend
        self.embedded = 0

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.encode(texts, batch_size=batch_size)


@pytest.fixture
def hashing_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture(scope="session")
def real_encoder():
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    from retrieval.encoder_loading import load_encoder

    return load_encoder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., object]:
    """Build an Engine over a fresh data dir: ``make_engine(encoder, bundled=True, **settings)``."""
    from tradetalk.engine import Engine

    def build(encoder, *, bundled: bool = True, data_dir: Path | None = None, **overrides):
        data = data_dir or tmp_path / "data"
        if not bundled:
            empty = tmp_path / "no-bundled"
            empty.mkdir(exist_ok=True)
            overrides.setdefault("bundled_dir", empty)
        engine = Engine(Settings(data_dir=data, **overrides), encoder=encoder)
        engine.open()
        return engine

    return build


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory):
    """A PostgreSQL server for the session: ``TRADETALK_TEST_DATABASE_URL``'s, else a throwaway
    one started here (tests/pg_cluster.py). Yields an object with ``create_database()`` (a
    fresh database's URL) and, for a throwaway server, ``restart()``."""
    given = os.environ.get("TRADETALK_TEST_DATABASE_URL")
    if given:
        yield GivenPostgres(given)
        return
    from pg_cluster import ThrowawayPostgres

    server = ThrowawayPostgres().start()
    try:
        yield server
    finally:
        server.destroy()


class GivenPostgres:
    """A server someone else runs: fresh databases are created on it; it is never restarted."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create_database(self) -> str:
        import uuid

        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return make_conninfo(**{**conninfo_to_dict(self.url), "dbname": name})

    def restart(self) -> None:
        pytest.skip("the server of TRADETALK_TEST_DATABASE_URL is not ours to restart")


@pytest.fixture
def database_url(postgres_server) -> Iterator[str]:
    """A fresh, empty database for one test; the process's connections to it closed after."""
    url = postgres_server.create_database()
    yield url
    from storage.postgres.backend import close_backends

    close_backends()


@pytest.fixture(params=["local", "postgres"])
def store_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on the local store and again on PostgreSQL: ``TRADETALK_DATABASE_URL`` is set
    for the second run (a fresh database), so every `Settings` built in the test, in this
    process or a child, keeps its libraries there."""
    if request.param == "postgres":
        url = request.getfixturevalue("database_url")
        monkeypatch.setenv("TRADETALK_DATABASE_URL", url)
    return request.param
