"""The ONNX backend: exported locally from the packaged weights, once, into the data dir; checked
against sentence-transformers; recorded in the index manifest; answering as torch does."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from retrieval.encoder import OnnxEncoder, default_model_path
from retrieval.encoder_loading import load_encoder
from retrieval.manifest import MANIFEST_NAME, file_digest
from retrieval.onnx_export import EXPORT_INFO, VERIFIED, bundled_check_texts, ensure_onnx_export
from tradetalk.engine import Engine

pytestmark = pytest.mark.model

QUESTION = "What is blocking the deal?"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """One export for the module (it takes a while); tests copy it into their data dirs."""
    cache = tmp_path_factory.mktemp("models")
    return ensure_onnx_export(default_model_path(), cache)


def data_dir_with_export(tmp_path: Path, exported: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(exported, data / "models" / exported.name)
    return data


def test_the_export_is_complete_checked_and_made_from_local_files(exported, real_encoder) -> None:
    info = json.loads((exported / EXPORT_INFO).read_text())
    assert info["model_id"] == real_encoder.model_id
    assert info["source"] == str(default_model_path())
    assert info["check"]["texts"] == len(bundled_check_texts()) > 0
    assert info["check"]["min_cosine"] >= 0.99
    assert info["size"] == (exported / "model.onnx").stat().st_size
    assert not list(exported.parent.glob(".tmp-*"))  # built aside, renamed into place


def test_onnx_vectors_match_torch_on_the_bundled_passages(exported, real_encoder) -> None:
    onnx = OnnxEncoder(exported)
    texts = bundled_check_texts()
    cosines = np.sum(onnx.encode(texts) * real_encoder.encode(texts), axis=1)
    assert cosines.min() >= 0.99
    assert onnx.dimension == real_encoder.dimension
    # Batched or alone, a text gets the same vector (padding must not leak into the pooling).
    alone = np.concatenate([onnx.encode([t]) for t in texts[:5]])
    np.testing.assert_allclose(onnx.encode(texts[:5]), alone, atol=1e-5)


def test_an_existing_export_is_reused_and_a_damaged_one_replaced(exported, tmp_path) -> None:
    cache = tmp_path / "models"
    shutil.copytree(exported, cache / exported.name)
    target = cache / exported.name
    before = (target / "model.onnx").stat().st_mtime_ns
    assert ensure_onnx_export(default_model_path(), cache) == target
    assert (target / "model.onnx").stat().st_mtime_ns == before  # nothing re-exported
    with (target / "model.onnx").open("r+b") as handle:
        handle.truncate(1000)  # a crash or a full disk, say
    assert ensure_onnx_export(default_model_path(), cache) == target
    info = json.loads((target / EXPORT_INFO).read_text())
    assert (target / "model.onnx").stat().st_size == info["size"] > 1000


def flip_a_byte(path: Path) -> None:
    """Same size, different content: what a size check alone accepts."""
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_an_export_whose_model_changed_is_exported_again(exported, tmp_path) -> None:
    cache = tmp_path / "models"
    shutil.copytree(exported, cache / exported.name)
    target = cache / exported.name
    info = json.loads((target / EXPORT_INFO).read_text())
    ensure_onnx_export(default_model_path(), cache)  # verified once, and the verdict kept
    assert (target / VERIFIED).exists()
    model = target / "model.onnx"
    seen = model.stat()
    flip_a_byte(model)
    os.utime(model, ns=(seen.st_atime_ns, seen.st_mtime_ns))  # even with its mtime put back
    assert ensure_onnx_export(default_model_path(), cache) == target
    assert file_digest(model) == info["sha256"]  # a fresh, checked export replaced it
    assert json.loads((target / EXPORT_INFO).read_text())["check"]["min_cosine"] >= 0.99


def test_the_onnx_engine_records_its_model_and_answers_like_torch(
    exported, real_encoder, tmp_path
) -> None:
    onnx_engine = Engine(
        Settings(
            data_dir=(data := data_dir_with_export(tmp_path, exported)),
            backend="onnx",
            model_cache_dir=data / "models",
        )
    )
    onnx_engine.open()
    manifest = json.loads((onnx_engine.index.directory / MANIFEST_NAME).read_text())
    assert manifest["backend"] == "onnx"
    assert manifest["encoder"]["onnx_export"] == exported.name
    info = json.loads((exported / EXPORT_INFO).read_text())
    assert manifest["encoder"]["onnx_sha256"] == info["sha256"]

    torch_engine = Engine(
        Settings(data_dir=tmp_path / "torch", backend="torch"), encoder=real_encoder
    )
    torch_engine.open()
    onnx_answer, torch_answer = onnx_engine.ask(QUESTION), torch_engine.ask(QUESTION)
    assert onnx_answer.text == torch_answer.text
    assert [h.record.id for h in onnx_answer.hits] == [h.record.id for h in torch_answer.hits]
    onnx_engine.close()
    torch_engine.close()


def test_switching_the_backend_rebuilds_once_then_opens_as_is(
    exported, real_encoder, tmp_path
) -> None:
    data = data_dir_with_export(tmp_path, exported)
    torch_engine = Engine(Settings(data_dir=data, backend="torch"), encoder=real_encoder)
    torch_engine.open()
    torch_build = torch_engine.index.directory
    torch_engine.close()
    onnx_settings = Settings(data_dir=data, backend="onnx", model_cache_dir=data / "models")
    first = Engine(onnx_settings)
    assert first.needs_build()  # the CLI shows a progress bar for it
    first.open()
    assert first.index.directory != torch_build
    assert first.index.manifest.backend == "onnx"
    onnx_build = first.index.directory
    first.close()
    again = Engine(onnx_settings, encoder=load_encoder(backend="onnx", cache_dir=data / "models"))
    assert not again.needs_build()
    again.open()
    assert again.index.directory == onnx_build  # nothing rebuilt at start
    again.close()
