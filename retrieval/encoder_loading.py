"""Which encoder a setting gives, loaded once per process: sentence-transformers with torch, or
the ONNX export of the same weights (made on first use, `retrieval.onnx_export`)."""

from __future__ import annotations

import threading
from pathlib import Path

from errors import ModelError
from retrieval.encoder import (
    BACKENDS,
    Encoder,
    OnnxEncoder,
    SentenceTransformerEncoder,
    default_model_path,
)
from retrieval.onnx_export import ensure_onnx_export

_LOADED: dict[tuple[str, str, str], Encoder] = {}
_LOAD_LOCK = threading.Lock()


def load_encoder(
    path: Path | None = None, *, backend: str = "torch", cache_dir: Path | None = None
) -> Encoder:
    """One loaded model per (path, backend) per process: the CLI, the bot and tests share it.

    ``backend="onnx"`` exports the model into `cache_dir` on first use (once; see
    `retrieval.onnx_export`) and loads it from there afterwards."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown encoder backend {backend!r} (choose from {', '.join(BACKENDS)})")
    model_path = Path(path) if path else default_model_path()
    if backend == "onnx" and cache_dir is None:
        raise ModelError("the onnx backend needs a directory to keep the exported model in")
    key = (str(model_path), backend, str(cache_dir) if backend == "onnx" else "")
    with _LOAD_LOCK:
        if key not in _LOADED:
            if backend == "onnx":
                assert cache_dir is not None
                _LOADED[key] = OnnxEncoder(ensure_onnx_export(model_path, cache_dir))
            else:
                _LOADED[key] = SentenceTransformerEncoder(model_path, backend=backend)
        return _LOADED[key]
