"""What the existing crash and lifecycle tests leave open: a damaged or foreign index is not only
skipped but *logged*, and articles right at the size cap (one enormous line, one enormous
sentence) are ingested or refused cleanly without harming the index."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from tradetalk.engine import Engine
from tradetalk.errors import ArticleError

OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"


def open_engine(data: Path, encoder=None, **settings) -> Engine:
    engine = Engine(Settings(data_dir=data, **settings), encoder=encoder or HashingEncoder())
    engine.open()
    return engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Two builds on disk: the bundled article, then with one more article added."""
    data = tmp_path / "data"
    engine = open_engine(data)
    engine.ingest_path(OTHER)
    engine.close()
    return data


@pytest.mark.parametrize("damage", ["truncated", "flipped", "missing"])
def test_a_damaged_build_is_logged_and_never_served(
    data_dir: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = open_engine(data_dir)
    current, titles = first.index.directory, {a.title for a in first.articles()}
    newest = first.index.segments[-1].directory  # the segment only the current build lists
    first.close()
    target = newest / "passage_vectors.npy"
    raw = target.read_bytes()
    if damage == "truncated":
        target.write_bytes(raw[: len(raw) // 2])
    elif damage == "flipped":
        target.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    else:
        target.unlink()
    with caplog.at_level(logging.WARNING, logger="retrieval.storage"):
        engine = open_engine(data_dir)
    assert engine.index.directory != current
    assert {a.title for a in engine.articles()} == titles  # brought back up to date
    messages = [r.getMessage() for r in caplog.records]
    # Refused by the manifest's check, for the reason of its damage (loading the file itself
    # fails too when it is truncated or missing, so the reason is what shows the check ran).
    reason = {
        "truncated": "index file passage_vectors.npy has the wrong size (truncated?)",
        "flipped": "index file passage_vectors.npy fails its checksum (corrupted)",
        "missing": "index file passage_vectors.npy is missing",
    }[damage]
    skipped = f"skipping damaged index build {current.name}: "
    assert any(m.startswith(skipped) and reason in m for m in messages), messages
    assert any("serving older build" in m for m in messages)


def test_an_index_from_another_model_is_logged_and_rebuilt(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class OtherModel(HashingEncoder):
        model_id = "another-model@2"

    with caplog.at_level(logging.INFO, logger="tradetalk.engine"):
        engine = open_engine(data_dir, OtherModel())
    assert engine.index.manifest.model_id == "another-model@2"
    assert len(engine.articles()) == 2
    assert "index was built with another model or format; rebuilding" in caplog.text


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("one-line.txt", "tariff " * 270_000),  # 1.9 MB, one line, no sentence end
        ("one-word.txt", "x" * 1_900_000),  # 1.9 MB, one word
        ("one-sentence.md", "---\ntitle: Long\n---\n\n" + "The talks went on, " * 99_000 + "."),
        ("many-lines.txt", "Dairy quotas.\n" * 130_000),
    ],
)
def test_articles_at_the_size_cap_ingest_or_fail_cleanly(
    tmp_path: Path, name: str, body: str
) -> None:
    empty = tmp_path / "no-bundled"
    empty.mkdir()
    engine = open_engine(tmp_path / "data", bundled_dir=empty)
    data = body.encode()
    assert len(data) <= engine.settings.max_article_bytes  # right at the cap, not refused by it
    started = time.monotonic()
    try:
        result = engine.ingest_bytes(data, name)
    except ArticleError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result.article.passage_count > 0
    assert time.monotonic() - started < 120  # no runaway parse or split
    assert sum(a.passage_count for a in engine.articles()) == len(engine.index)
    reopened = open_engine(tmp_path / "data", bundled_dir=empty)
    assert len(reopened.index) == len(engine.index)
