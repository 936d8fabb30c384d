"""Export the packaged sentence-transformers model to ONNX, once, into the data directory.

Layout under the cache directory (``DATA_DIR/models``)::

    <model fingerprint>-onnx/
        model.onnx      the whole pipeline: transformer, pooling, L2 normalisation
        tokenizer.json  the model's own tokenizer
        export.json     written last: source model id, file sha256, versions, and the check
        verified.json   model.onnx's sha256 checked against export.json, and its stat then

The export is built in a ``.tmp-*`` directory and renamed into place, so a crash leaves no
half-written model. Before it is kept, its vectors are compared with sentence-transformers'
on the bundled passages; a cosine below `MIN_COSINE` anywhere rejects it. Nothing is
downloaded: the source is the local model directory, and the exporter is torch's own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from errors import ModelError
from retrieval.encoder import OnnxEncoder, SentenceTransformerEncoder, model_fingerprint
from retrieval.manifest import file_digest

log = logging.getLogger(__name__)

MIN_COSINE = 0.99
OPSET = 17
EXPORT_INFO = "export.json"
VERIFIED = "verified.json"  # the last sha256 check of model.onnx, and the file it was made on
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir_for(source: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{model_fingerprint(source)}-onnx"


def bundled_check_texts() -> list[str]:
    """The bundled passages and their sentences: what the exported model is checked on."""
    from corpus.articles import read_article
    from corpus.library import BUNDLED_DIR
    from corpus.passages import split_passages

    texts: list[str] = []
    for path in sorted(BUNDLED_DIR.glob("*.md")):
        article = read_article(path, max_bytes=10_000_000)
        for passage in split_passages(article):
            texts.append(passage.text)
            texts.extend(passage.sentence_texts(article.text))
    return texts


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """Two processes starting at once (bot and CLI) export once, not twice."""
    with (cache_dir / ".export.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable(directory: Path) -> bool:
    """A complete, checked export whose model file is the one that was checked (sha256)."""
    try:
        info = json.loads((directory / EXPORT_INFO).read_text(encoding="utf-8"))
        model = directory / "model.onnx"
        seen = model.stat()
        if "check" not in info or seen.st_size != info["size"]:
            return False
        return _same_file(directory, model, seen, str(info["sha256"]))
    except (OSError, ValueError, KeyError):
        return False


def _stat_key(seen: os.stat_result) -> list[int]:
    # ctime changes with any write and no tool can set it back, unlike mtime (touch -d).
    return [seen.st_size, seen.st_mtime_ns, seen.st_ctime_ns, seen.st_ino, seen.st_dev]


def _same_file(directory: Path, model: Path, seen: os.stat_result, sha256: str) -> bool:
    """Whether `model` hashes to `sha256`. Hashing the 90 MB file costs ~0.1 s a start, so the
    verdict is kept in ``verified.json`` with the file's size, times and inode: a file changed
    in any way since (even with its mtime put back) is hashed again."""
    stamp = directory / VERIFIED
    expected = {"sha256": sha256, "stat": _stat_key(seen)}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == expected:
            return True
    except (OSError, ValueError):
        pass
    if file_digest(model) != sha256:
        log.warning("the ONNX export in %s fails its checksum; exporting it again", directory)
        return False
    try:
        tmp = directory / f".{VERIFIED}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(expected), encoding="utf-8")
        os.replace(tmp, stamp)
    except OSError:  # a read-only cache: hash at every start instead
        log.debug("cannot record the export's verification in %s", directory, exc_info=True)
    return True


def ensure_onnx_export(
    source: Path, cache_dir: Path, *, check_texts: list[str] | None = None
) -> Path:
    """The export directory for the model at `source`, exporting it first if it is missing or
    damaged. Raises `ModelError` if the export fails or disagrees with sentence-transformers."""
    target = export_dir_for(source, cache_dir)
    if _usable(target):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model cache {cache_dir}: {exc.strerror}") from exc
    with _locked(cache_dir):
        if _usable(target):  # another process finished it while we waited
            return target
        for leftover in cache_dir.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        log.info("exporting the embedding model to ONNX in %s (once)", target)
        tmp = cache_dir / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
        try:
            export(source, tmp, check_texts=check_texts)
            if target.exists():
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def export(source: Path, directory: Path, *, check_texts: list[str] | None = None) -> dict:
    """Write the ONNX model, tokenizer and ``export.json`` for `source` into `directory`."""
    reference = SentenceTransformerEncoder(source)
    directory.mkdir(parents=True)
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; say so rather than fail deep inside)
    except ImportError as exc:
        raise ModelError(
            "exporting the model to ONNX needs the onnx package (pip install onnx)"
        ) from exc
    try:
        _export_graph(reference, directory / "model.onnx")
    except Exception as exc:  # torch.onnx raises many types; the user needs one line
        raise ModelError(f"cannot export the embedding model to ONNX: {exc}") from exc
    shutil.copyfile(source / "tokenizer.json", directory / "tokenizer.json")
    tokenizer = reference._model.tokenizer
    info: dict = {
        "model_id": reference.model_id,
        "source": str(source),
        "dimension": reference.dimension,
        "max_seq_length": int(reference._model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "opset": OPSET,
        "size": (directory / "model.onnx").stat().st_size,
        "sha256": file_digest(directory / "model.onnx"),
        "versions": _versions(),
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (directory / EXPORT_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    texts = check_texts if check_texts is not None else bundled_check_texts()
    worst = check_against(reference, OnnxEncoder(directory), texts)
    if worst < MIN_COSINE:
        raise ModelError(
            f"the ONNX export disagrees with sentence-transformers (cosine {worst:.4f} "
            f"< {MIN_COSINE}); use TRADETALK_BACKEND=torch"
        )
    info["check"] = {"texts": len(texts), "min_cosine": round(worst, 6)}
    # Written again, last: the check result is part of what makes the export usable.
    tmp = directory / (EXPORT_INFO + ".tmp")
    tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(tmp, directory / EXPORT_INFO)
    log.info("ONNX export checked: min cosine %.6f over %d texts", worst, len(texts))
    return info


def check_against(
    reference: SentenceTransformerEncoder, candidate: OnnxEncoder, texts: list[str]
) -> float:
    """The lowest cosine between the two encoders' vectors for the same text."""
    if not texts:
        return 1.0
    expected = reference.encode(texts)
    actual = candidate.encode(texts)
    return float(np.min(np.sum(expected * actual, axis=1)))


def _export_graph(reference: SentenceTransformerEncoder, path: Path) -> None:
    import torch

    model = reference._model.eval()

    class Pipeline(torch.nn.Module):
        """Token ids in, normalised sentence embedding out: every module of the model."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            features = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            embedding = self.model(features)["sentence_embedding"]
            return torch.nn.functional.normalize(embedding, p=2.0, dim=1)

    sample = model.tokenizer(
        ["a short text", "a somewhat longer text to trace with"], padding=True, return_tensors="pt"
    )
    if "token_type_ids" not in sample:
        raise ModelError("the onnx backend supports BERT-style models (with token_type_ids) only")
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about constant shapes: checked below
        torch.onnx.export(
            Pipeline().eval(),
            tuple(sample[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
            external_data=False,
        )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "sentence-transformers", "transformers", "onnxruntime"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found
