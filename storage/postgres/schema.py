"""The tables. One shared schema, ``tradetalk``, lists the libraries; each library has a schema
of its own (``lib_global``, ``lib_<server id>``) holding everything it stores, so the same
statements serve every library, one library's rows can never be read as another's, and purging
a server is one ``DROP SCHEMA`` in one transaction."""

from __future__ import annotations

SCHEMA_VERSION = 1
NOTIFY_CHANNEL = "tradetalk_builds"  # payload: "<library id> <build name>"

SHARED = """
CREATE SCHEMA IF NOT EXISTS tradetalk;
CREATE TABLE IF NOT EXISTS tradetalk.libraries (
    id TEXT PRIMARY KEY,              -- 'global', or a Discord server id
    schema_name TEXT NOT NULL UNIQUE,
    build TEXT,                       -- the current build's name (NULL: none yet)
    generation BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tradetalk.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# One library's tables. Passages carry their vectors (float32, little-endian) and their
# sentences' vectors and their sentences' parses (made once at ingest, kept as records.sqlite
# keeps them); `segment_files` carries any other file a segment holds
# (its BM25 postings, and whatever later versions add) byte for byte.
LIBRARY = """
CREATE TABLE IF NOT EXISTS articles (
    key TEXT PRIMARY KEY,             -- 'added/<file name>', as the index's sources name it
    article_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    body BYTEA NOT NULL,              -- the stored Markdown with front matter
    saved_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS articles_article ON articles (article_id);
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    manifest JSONB NOT NULL,          -- counts, kind, fingerprint, sources (not host files)
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS segment_articles (
    segment TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    info JSONB NOT NULL,
    duplicate_of_hash TEXT,
    first_row INTEGER NOT NULL,
    PRIMARY KEY (segment, article_id)
);
CREATE TABLE IF NOT EXISTS passages (
    segment TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    row INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    paragraph INTEGER NOT NULL,
    part INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences JSONB NOT NULL,         -- [[start, end], ...] in the article's text
    dup_article TEXT,
    dup_hash TEXT,
    dup_ordinal INTEGER,
    vector BYTEA NOT NULL,
    sentence_vectors BYTEA NOT NULL,
    sentence_parse BYTEA,             -- its sentences' parses as records.sqlite keeps them
    PRIMARY KEY (segment, row)
);
CREATE TABLE IF NOT EXISTS segment_files (
    segment TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (segment, name)
);
CREATE TABLE IF NOT EXISTS builds (
    name TEXT PRIMARY KEY,
    generation BIGINT NOT NULL UNIQUE,
    manifest JSONB NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS documents (
    name TEXT PRIMARY KEY,            -- 'issues.toml', 'whatsnew.json', ...
    body TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def schema_of(library: str) -> str:
    """The schema of a library id ('global' or a server id, already checked)."""
    if library != "global" and not library.isdigit():
        raise ValueError(f"not a library id: {library!r}")
    return f"lib_{library}"
