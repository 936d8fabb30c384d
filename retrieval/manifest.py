"""The JSON manifest written last into every index build: what the index is and how to check it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from errors import IndexCorrupt

# 4: list items are sentences, irregular verbs share a stem ("took" / "take"), outlets' names
# and wider furniture rules: builds of earlier versions are rebuilt from the article files.
# 5: article identity is what TradeTalk saw (fetched URL, else content), fetched pages' claims
# are stored apart, and builds carry a generation number.
FORMAT_VERSION = 5
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    model_id: str
    dimension: int
    passage_count: int
    sentence_count: int
    corpus_fingerprint: str
    articles: dict[str, str]  # article id -> content hash
    index_kind: str
    built_at: str
    backend: str = "torch"
    encoder: dict[str, str] = field(default_factory=dict)  # the encoder's description (ONNX file)
    sources: dict[str, list[str]] = field(default_factory=dict)  # file -> [sha256, article id]
    format_version: int = FORMAT_VERSION
    files: dict[str, dict[str, object]] = field(default_factory=dict)  # name -> {size, sha256}
    generation: int = 0  # one more than the newest build on disk when this one was written


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_files(directory: Path) -> dict[str, dict[str, object]]:
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            name = path.relative_to(directory).as_posix()
            files[name] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    return files


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Written last: a build directory without a manifest is incomplete by definition."""
    target = directory / MANIFEST_NAME
    tmp = directory / (MANIFEST_NAME + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(asdict(manifest), handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(**data)
    except FileNotFoundError:
        raise IndexCorrupt(f"index build {directory.name} has no manifest") from None
    except (ValueError, TypeError) as exc:
        raise IndexCorrupt(f"index manifest in {directory.name} is unreadable") from exc


def verify_files(directory: Path, manifest: Manifest) -> None:
    """Raise `IndexCorrupt` if any file is missing, truncated or altered."""
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise IndexCorrupt(f"index file {name} is missing")
        if path.stat().st_size != expected["size"]:
            raise IndexCorrupt(f"index file {name} has the wrong size (truncated?)")
        if file_digest(path) != expected["sha256"]:
            raise IndexCorrupt(f"index file {name} fails its checksum (corrupted)")
