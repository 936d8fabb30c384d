"""Libraries in PostgreSQL, the system of record when ``TRADETALK_DATABASE_URL`` is set; every
host keeps only a cache of the index segments it serves.

- `backend.PostgresBackend`: one per process: the connection pool, the schema, advisory locks,
  the LISTEN thread that hears of other hosts' builds.
- `store.PostgresStore`: one library (`storage.base.LibraryStore`): its articles, segments
  (passages with their vectors) and builds in the library's own schema.
- `segments`: a segment's rows up to the database, and down into a host's cache.
- `tables.SqlTables`: the small per-library stores (audit log, settings, feeds) on the same
  connection, in the library's schema.
"""

from storage.postgres.backend import PostgresBackend
from storage.postgres.store import PostgresStore

__all__ = ["PostgresBackend", "PostgresStore"]
