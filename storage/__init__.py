"""The storage of a library: one small interface (`storage.base.LibraryStore`: its article
sources, its index builds, the locks its writers take and the check for a newer build) and
its implementations. `storage.local.LocalStore` keeps a library in its directory of the data
dir (article files, index builds, ``flock``s) as TradeTalk always has;
`storage.postgres.PostgresStore` keeps it in PostgreSQL (``TRADETALK_DATABASE_URL``), with
this host's cache of its index. `open_store` picks by the settings."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from corpus.library import BUNDLED_DIR, ArticleLibrary
from storage.base import ArticleSources, LibraryStore, Staging
from storage.local import LocalStore
from storage.tables import SqliteTables, Tables

GLOBAL_LIBRARY = "global"

__all__ = [
    "GLOBAL_LIBRARY",
    "ArticleSources",
    "LibraryStore",
    "LocalStore",
    "SqliteTables",
    "Staging",
    "Tables",
    "open_store",
    "tables_for",
]


def open_store(
    settings: Settings, *, library: str = GLOBAL_LIBRARY, bundled: bool, follow: bool = True
) -> LibraryStore:
    """The store of a library ('global', or a server id as text) whose local directory is
    `settings.data_dir`: that directory itself, or, with ``TRADETALK_DATABASE_URL``, the
    database (and this host's cache of it). ``bundled``: the library holds the bundled corpus;
    ``follow``: hear of other hosts' builds (an engine's store; not a store only probed)."""
    bundled_dir: Path | None = (settings.bundled_dir or BUNDLED_DIR) if bundled else None
    if settings.database_url is not None:
        from storage.postgres.backend import backend_for
        from storage.postgres.store import PostgresStore

        return PostgresStore(
            backend_for(settings.database_url.get_secret_value()),
            library,
            settings.library_cache,
            bundled_dir=bundled_dir,
            max_bytes=settings.max_article_bytes,
            follow=follow,
        )
    return LocalStore(
        ArticleLibrary(
            settings.articles_dir, max_bytes=settings.max_article_bytes, bundled_dir=bundled_dir
        ),
        settings.index_dir,
    )


def tables_for(
    settings: Settings, *, library: str, file: str, schema: str, table: str, wal: bool = False
) -> Tables:
    """A store's tables for a library whose local directory is `settings.data_dir`: the SQLite
    `file` there, or the library's schema of the database (`table` tells whether the store
    holds anything). `schema` is the store's SQLite ``CREATE`` statements."""
    if settings.database_url is not None:
        from storage.postgres.backend import backend_for
        from storage.tables import PostgresTables

        return PostgresTables(
            backend_for(settings.database_url.get_secret_value()), library, table, schema
        )
    return SqliteTables(settings.data_dir / file, schema, wal=wal)
