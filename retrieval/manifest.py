"""The JSON manifests: one written last into every index build (what the build is: its
segments, which articles each no longer serves, counts, model), and one written last into every
segment (its files and their checksums). Either file's presence marks its directory complete."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from errors import IndexCorrupt

# 4: list items are sentences, irregular verbs share a stem ("took" / "take"), outlets' names
# and wider furniture rules: builds of earlier versions are rebuilt from the article files.
# 5: article identity is what TradeTalk saw (fetched URL, else content), fetched pages' claims
# are stored apart, and builds carry a generation number.
# 6: a build is a list of immutable segments (index/segments/), BM25 keeps raw postings scored
# with corpus-wide statistics, and a copy names the passage it copies by article, not by row.
# 7: every passage keeps its sentences' parses (corpus.parsing), made once at ingest.
FORMAT_VERSION = 7
MANIFEST_NAME = "manifest.json"
SEGMENT_MANIFEST = "segment.json"


@dataclass(frozen=True)
class SegmentEntry:
    """A build's use of one segment: which segment (and the digest of its manifest, so a
    segment replaced under the same name is caught) and the articles it no longer serves
    (removed, or replaced by a newer version in a later segment)."""

    id: str
    sha256: str
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    model_id: str
    dimension: int
    passage_count: int
    sentence_count: int
    corpus_fingerprint: str  # the same for the same articles, however they are segmented
    index_kind: str  # the vector index of its largest segment
    built_at: str
    backend: str = "torch"
    encoder: dict[str, str] = field(default_factory=dict)  # the encoder's description (ONNX file)
    format_version: int = FORMAT_VERSION
    files: dict[str, dict[str, object]] = field(default_factory=dict)  # name -> {size, sha256}
    generation: int = 0  # one more than the newest build on disk when this one was written
    article_count: int = 0
    segments: tuple[SegmentEntry, ...] = ()


@dataclass(frozen=True)
class SegmentManifest:
    """What one segment holds. Its files never change once this is written."""

    id: str
    dimension: int
    passage_count: int
    sentence_count: int
    article_count: int
    index_kind: str
    fingerprint: str  # of its articles (see `fingerprint_add`)
    built_at: str
    sources: dict[str, list[str]] = field(default_factory=dict)  # file -> [sha256, article id]
    files: dict[str, dict[str, object]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION


_MOD = 1 << 256


def article_fingerprint(article_id: str, content_hash: str) -> int:
    return int(hashlib.sha256(f"{article_id}:{content_hash}".encode()).hexdigest(), 16)


def fingerprint_add(fingerprint: str, *articles: tuple[str, str], sign: int = 1) -> str:
    """A corpus fingerprint is the sum (mod 2^256) of its articles' (id, content hash) digests:
    it does not depend on order or segmenting, and adding or removing an article costs one
    digest, not a pass over the corpus."""
    total = int(fingerprint, 16) if fingerprint else 0
    for article_id, content_hash in articles:
        total = (total + sign * article_fingerprint(article_id, content_hash)) % _MOD
    return f"{total:064x}"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_files(directory: Path) -> dict[str, dict[str, object]]:
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name not in (MANIFEST_NAME, SEGMENT_MANIFEST):
            name = path.relative_to(directory).as_posix()
            files[name] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    return files


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Written last: a build directory without a manifest is incomplete by definition."""
    _write_json(directory / MANIFEST_NAME, asdict(manifest))


def _write_json(target: Path, data: dict) -> None:
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _known(cls: type, data: object) -> dict:
    """The fields `cls` has: a manifest of another format may have others (its format version
    then says it is not to be read)."""
    if not isinstance(data, dict):
        raise TypeError("a manifest is a JSON object")
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        data = _known(Manifest, json.loads(path.read_text(encoding="utf-8")))
        segments = tuple(
            SegmentEntry(str(e["id"]), str(e["sha256"]), tuple(e.get("removed", ())))
            for e in data.pop("segments", ())
        )
        return Manifest(**data, segments=segments)
    except FileNotFoundError:
        raise IndexCorrupt(f"index build {directory.name} has no manifest") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"index manifest in {directory.name} is unreadable") from exc


def write_segment_manifest(directory: Path, manifest: SegmentManifest) -> None:
    """Written last, as a build's manifest is."""
    _write_json(directory / SEGMENT_MANIFEST, asdict(manifest))


def read_segment_manifest(directory: Path) -> tuple[SegmentManifest, str]:
    """The segment's manifest and the sha256 of its bytes (what builds refer to it by)."""
    path = directory / SEGMENT_MANIFEST
    try:
        raw = path.read_bytes()
        return SegmentManifest(**_known(SegmentManifest, json.loads(raw))), hashlib.sha256(
            raw
        ).hexdigest()
    except FileNotFoundError:
        raise IndexCorrupt(f"index segment {directory.name} is missing or incomplete") from None
    except (ValueError, TypeError) as exc:
        raise IndexCorrupt(f"the manifest of index segment {directory.name} is unreadable") from exc


def verify_files(directory: Path, manifest: Manifest | SegmentManifest) -> None:
    """Raise `IndexCorrupt` if any file is missing, truncated or altered."""
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise IndexCorrupt(f"index file {name} is missing")
        if path.stat().st_size != expected["size"]:
            raise IndexCorrupt(f"index file {name} has the wrong size (truncated?)")
        if file_digest(path) != expected["sha256"]:
            raise IndexCorrupt(f"index file {name} fails its checksum (corrupted)")
