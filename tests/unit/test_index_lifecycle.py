"""The index on disk: manifest, incremental updates, staleness, atomic builds, damage.

Uses the hashing test encoder so the file and bookkeeping logic runs fast; the real model is
used by the integration tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ARTICLES, HashingEncoder

import retrieval.segment as segment_module
from retrieval.manifest import FORMAT_VERSION, MANIFEST_NAME, SEGMENT_MANIFEST
from tradetalk.errors import ArticleNotFound, ReadOnlyArticle, StorageError

WIRE = ARTICLES / "2018-09-26-continental-press-trump-rebuffs-trudeau.md"
WIRE_COPY = ARTICLES / "2018-09-26-lakeshore-daily-trump-snubs-trudeau.md"
OTHER = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"


def test_first_open_builds_and_writes_a_manifest(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    manifest = json.loads((engine.index.directory / MANIFEST_NAME).read_text())
    assert manifest["model_id"] == HashingEncoder.model_id
    assert manifest["dimension"] == HashingEncoder.dimension
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["passage_count"] == len(engine.index) > 0
    assert manifest["index_kind"] == "flat"
    assert len(manifest["corpus_fingerprint"]) == 64
    # The build lists one segment, whose own manifest checksums every file in it.
    [entry] = manifest["segments"]
    segment = engine.storage.segments / entry["id"]
    files = json.loads((segment / SEGMENT_MANIFEST).read_text())["files"]
    assert {"passages.faiss", "records.sqlite", "bm25/rows.npy"} <= set(files)
    assert SEGMENT_MANIFEST not in files
    # Nothing is pickled: every artefact is npy, JSON, FAISS or SQLite.
    names = [p.name for p in engine.storage.root.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]


def test_reopening_a_current_index_embeds_nothing(make_engine, hashing_encoder, tmp_path) -> None:
    make_engine(hashing_encoder)
    before = hashing_encoder.embedded
    engine = make_engine(hashing_encoder)
    assert hashing_encoder.embedded == before
    assert len(engine.articles()) == 1


def test_ingest_embeds_only_the_new_article_and_is_idempotent(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    before = hashing_encoder.embedded
    result = engine.ingest_path(OTHER)
    assert result.status == "added"
    added = hashing_encoder.embedded - before
    passages = result.article.passage_count
    assert passages <= added < passages * 10  # its passages and their sentences, nothing else
    again = engine.ingest_path(OTHER)
    assert again.status == "unchanged" and hashing_encoder.embedded == before + added
    assert (engine.settings.articles_dir / f"{result.article.id}.md").exists()


def test_files_added_or_removed_behind_its_back_are_picked_up(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    added = engine.ingest_path(OTHER).article
    # Another process drops in a file and deletes one.
    (engine.settings.articles_dir / f"{added.id}.md").unlink()
    target = engine.settings.articles_dir / "by-hand.md"
    target.write_bytes(WIRE.read_bytes())
    before = hashing_encoder.embedded
    reopened = make_engine(hashing_encoder)
    ids = {a.id for a in reopened.articles()}
    assert added.id not in ids
    assert any("rebuffed" in a.title for a in reopened.articles())
    embedded = hashing_encoder.embedded - before
    wire = next(a for a in reopened.articles() if "rebuffed" in a.title)
    assert wire.passage_count <= embedded < wire.passage_count * 10


def test_another_model_forces_a_rebuild(make_engine, hashing_encoder) -> None:
    make_engine(hashing_encoder)

    class OtherModel(HashingEncoder):
        model_id = "another-model@2"

    other = OtherModel()
    engine = make_engine(other)
    assert other.embedded > 0
    assert engine.index.manifest.model_id == "another-model@2"


def test_an_index_written_by_another_format_is_rebuilt_not_read(
    make_engine, hashing_encoder
) -> None:
    """An upgrade: the build on disk is of an older format (format 5 kept every file in the
    build's directory, with other records and BM25 files). Reading it would fail; it is passed
    over and rebuilt from the article files instead."""
    import json
    import shutil
    import sqlite3

    from retrieval.manifest import FORMAT_VERSION, MANIFEST_NAME, checksum_files

    first = make_engine(hashing_encoder)
    old = first.index.directory
    ids = sorted(a.id for a in first.articles())
    first.close()
    manifest = json.loads((old / MANIFEST_NAME).read_text())
    segment = first.storage.segments / manifest["segments"][0]["id"]
    for path in segment.iterdir():  # what format 5 wrote, in the build's own directory
        (shutil.copytree if path.is_dir() else shutil.copy)(path, old / path.name)
    shutil.rmtree(first.storage.segments)
    with sqlite3.connect(old / "records.sqlite") as db:  # ...with other columns
        db.execute("ALTER TABLE articles DROP COLUMN first_row")
    db.close()
    manifest["format_version"] = FORMAT_VERSION - 1
    manifest["files"] = checksum_files(old)  # a complete, undamaged build of that version
    del manifest["segments"]
    (old / MANIFEST_NAME).write_text(json.dumps(manifest))
    again = make_engine(hashing_encoder)
    assert again.index.directory != old
    assert again.index.manifest.format_version == FORMAT_VERSION
    assert sorted(a.id for a in again.articles()) == ids


def test_a_crash_mid_build_leaves_the_previous_index_serving(
    make_engine, hashing_encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(hashing_encoder)
    before = engine.index.directory

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segment_module, "write_records", disk_full)
    with pytest.raises(StorageError, match="no space left on the data disk"):
        engine.ingest_path(OTHER)
    assert engine.index.directory == before
    assert [a.id for a in engine.articles()] == [
        a.id for a in make_engine(hashing_encoder).articles()
    ]
    for folder in (engine.storage.builds, engine.storage.segments):
        assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert not list(engine.settings.articles_dir.glob("*.md"))  # the article file was rolled back


def test_a_damaged_index_is_never_served(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    engine.ingest_path(OTHER)
    current = engine.index.directory
    newest = engine.index.segments[-1].directory  # the ingested article's segment
    faiss_file = newest / "passages.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])  # truncated
    reopened = make_engine(hashing_encoder)
    assert reopened.index.directory != current
    # The older build was used and brought up to date, or everything was rebuilt.
    assert {a.title for a in reopened.articles()} == {a.title for a in engine.articles()}


def test_every_build_damaged_means_a_rebuild(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    for segment in engine.storage.segments.iterdir():
        (segment / "records.sqlite").write_bytes(b"garbage")
    before = hashing_encoder.embedded
    reopened = make_engine(hashing_encoder)
    assert hashing_encoder.embedded > before
    assert len(reopened.articles()) == 1


def test_remove(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder)
    added = engine.ingest_path(OTHER).article
    before = hashing_encoder.embedded
    engine.remove(added.id)
    assert hashing_encoder.embedded == before  # removal re-embeds nothing
    assert added.id not in {a.id for a in engine.articles()}
    assert not (engine.settings.articles_dir / f"{added.id}.md").exists()
    with pytest.raises(ArticleNotFound):
        engine.remove(added.id)
    bundled = engine.articles()[0]
    with pytest.raises(ReadOnlyArticle):
        engine.remove(bundled.id)


def test_wire_copies_are_recognised_and_folded_in_results(make_engine, hashing_encoder) -> None:
    engine = make_engine(hashing_encoder, bundled=False)
    original = engine.ingest_path(WIRE).article
    copy = engine.ingest_path(WIRE_COPY)
    assert copy.duplicate_of is not None and copy.duplicate_of.id == original.id
    result = engine.search("Trump turned down a meeting with Trudeau", k=5)
    texts = [h.record.text for h in result.hits]
    assert len(texts) == len(set(texts))
    folded = [h for h in result.hits if h.also_in]
    assert folded, "the copy should be cited, not shown again"


def test_rebuild_produces_the_same_answers(make_engine, hashing_encoder, tmp_path: Path) -> None:
    engine = make_engine(hashing_encoder)
    engine.ingest_path(OTHER)
    first = [h.record.id for h in engine.search("Mexico preliminary deal").hits]
    old = engine.index.directory
    engine.rebuild()
    assert engine.index.directory != old
    assert [h.record.id for h in engine.search("Mexico preliminary deal").hits] == first
