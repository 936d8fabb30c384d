"""One process's link to the database: a connection pool, the schema, advisory locks, and a
thread that LISTENs for builds other hosts publish.

Every call that cannot reach the database raises `StoreUnavailable` (one line, "temporarily
unavailable"); the pool replaces broken connections by itself, so the first call after the
database is back succeeds without a restart. A read that meets a connection broken by a
restart is tried once more on a fresh one."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool, PoolTimeout

from errors import IndexBusy, StoreUnavailable
from storage.postgres.schema import LIBRARY, NOTIFY_CHANNEL, SHARED, schema_of

log = logging.getLogger(__name__)
T = TypeVar("T")

UNAVAILABLE = "the article database is temporarily unavailable; please try again in a minute"
CONNECT_TIMEOUT = 5  # seconds to reach the server
WAIT_FOR_CONNECTION = 3.0  # seconds a call waits for a pooled connection before "unavailable"
_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class PostgresBackend:
    def __init__(self, url: str, *, listen: bool = True, max_size: int = 8) -> None:
        """`url`: a libpq connection string or URL (a secret: never logged). `listen`: start
        the LISTEN thread (tests turn it off to prove the generation check alone catches up)."""
        self._url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            timeout=WAIT_FOR_CONNECTION,
            name="tradetalk",
            open=False,
        )
        self.pool.open(wait=False)
        self._schema_ready = False
        self._libraries: set[str] = set()
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Callable[[str], None]]] = {}
        self._listen = listen
        self._listener: threading.Thread | None = None
        self._closing = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in place (tests wait on it)

    # -- connections ------------------------------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection (autocommit; use ``conn.transaction()``). Unreachable:
        `StoreUnavailable`."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except _TRANSIENT as exc:
            log.warning("database unavailable: %s", type(exc).__name__, exc_info=True)
            raise StoreUnavailable(UNAVAILABLE) from exc

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run an idempotent `query`; once more on a fresh connection if the first one was
        broken (the server restarted since it was opened)."""
        try:
            with self.pool.connection() as conn:
                return query(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            log.info("a pooled connection was broken; trying a fresh one", exc_info=True)
        except PoolTimeout as exc:
            raise StoreUnavailable(UNAVAILABLE) from exc
        with self.connection() as conn:
            return query(conn)

    def close(self) -> None:
        self._closing.set()
        self.pool.close()
        if self._listener is not None:
            self._listener.join(timeout=5)

    # -- schema -----------------------------------------------------------------------------

    def ensure_library(self, library: str) -> str:
        """The library's schema, created (with its row in ``tradetalk.libraries``) if new."""
        schema = schema_of(library)
        if library in self._libraries:
            return schema
        with self.connection() as conn, conn.transaction():
            # DDL from two hosts at once would collide in the catalogue: one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('tradetalk'), hashtext('ddl'))")
            if not self._schema_ready:
                conn.execute(SHARED)
            conn.execute(
                "INSERT INTO tradetalk.libraries (id, schema_name) VALUES (%s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (library, schema),
            )
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
            conn.execute(LIBRARY)
        self._schema_ready = True
        with self._lock:
            self._libraries.add(library)
        return schema

    def forget_library(self, library: str) -> None:
        with self._lock:
            self._libraries.discard(library)

    def library_ids(self) -> list[str]:
        """Every library the database holds."""

        def query(conn: Connection) -> list[str]:
            if not self._has_shared(conn):
                return []
            return [r[0] for r in conn.execute("SELECT id FROM tradetalk.libraries ORDER BY id")]

        return self.read(query)

    @staticmethod
    def _has_shared(conn: Connection) -> bool:
        row = conn.execute("SELECT to_regclass('tradetalk.libraries') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def current_build(self, library: str) -> str | None:
        """The name of the library's current build (the generation check before a question)."""

        def query(conn: Connection) -> str | None:
            try:
                row = conn.execute(
                    "SELECT build FROM tradetalk.libraries WHERE id = %s", (library,)
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return None  # an empty database: nothing stored yet
            return row[0] if row else None

        return self.read(query)

    # -- locks ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def advisory(self, library: str, purpose: str, *, wait: bool = True) -> Iterator[bool]:
        """A session advisory lock named by (library, purpose), held on a connection of its own
        for the block: across every host. Yields False at once if taken and not `wait`. If this
        process dies the server lets the lock go with the connection."""
        key = f"{library}:{purpose}"
        with self.connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(hashtext('tradetalk'), hashtext(%s))", (key,))
                held = True
            else:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext('tradetalk'), hashtext(%s))", (key,)
                ).fetchone()
                held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(*_TRANSIENT):  # gone with the session anyway
                        conn.execute(
                            "SELECT pg_advisory_unlock(hashtext('tradetalk'), hashtext(%s))",
                            (key,),
                        )

    @contextlib.contextmanager
    def write_lock(self, library: str, *, wait: bool = True) -> Iterator[None]:
        with self.advisory(library, "write", wait=wait) as held:
            if not held:
                raise IndexBusy(
                    "another TradeTalk process is writing the index; try again when it finishes"
                )
            yield

    # -- hearing of other hosts' builds ------------------------------------------------------

    def subscribe(self, library: str, callback: Callable[[str], None]) -> None:
        """Call `callback(build name)` when a host publishes a build of `library`."""
        with self._lock:
            self._listeners.setdefault(library, []).append(callback)
            start = self._listen and self._listener is None
            if start:
                self._listener = threading.Thread(
                    target=self._listen_loop, name="tradetalk-listen", daemon=True
                )
        if start:
            assert self._listener is not None
            self._listener.start()

    def unsubscribe(self, library: str, callback: Callable[[str], None]) -> None:
        with self._lock:
            found = self._listeners.get(library, [])
            if callback in found:
                found.remove(callback)

    def _listen_loop(self) -> None:
        delay = 0.5
        while not self._closing.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(NOTIFY_CHANNEL)))
                    self.listening.set()
                    delay = 0.5
                    while not self._closing.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._dispatch(note.payload)
            except psycopg.Error:
                self.listening.clear()
                log.info("LISTEN connection lost; reconnecting", exc_info=True)
                # Builds published meanwhile are found by the generation check before the
                # next question: nothing is missed, only heard of later.
                self._closing.wait(delay)
                delay = min(delay * 2, 10.0)
        self.listening.clear()

    def _dispatch(self, payload: str) -> None:
        library, _, name = payload.partition(" ")
        with self._lock:
            callbacks = list(self._listeners.get(library, ()))
        for callback in callbacks:
            try:
                callback(name)
            except Exception:
                log.exception("handling a build notification for library %s", library)


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll `check` until it holds or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


_BACKENDS: dict[str, PostgresBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def backend_for(url: str) -> PostgresBackend:
    """The process's backend for `url` (one pool and one LISTEN thread per database)."""
    with _BACKENDS_LOCK:
        found = _BACKENDS.get(url)
        if found is None:
            found = _BACKENDS[url] = PostgresBackend(url)
        return found


def close_backends() -> None:
    with _BACKENDS_LOCK:
        backends = list(_BACKENDS.values())
        _BACKENDS.clear()
    for backend in backends:
        backend.close()
