"""Which library serves where: the global library everywhere, and each Discord server's own.

`Libraries` is the one object the bot and the CLI hold. It maps a server id to that server's
library (`ServerLibrary`: its paths, settings, audit log and, while loaded, its `Engine`), loads
a server's index the first time the server needs it, and closes the least recently used ones
when the loaded indexes together outgrow the memory budget (``TRADETALK_MEMORY_BUDGET_MB``).
Every engine shares one encoder. ``None`` as a server id means the global library alone
(direct messages, the CLI without ``--server``).

All methods block (they load indexes, embed, write): the bot calls them in worker threads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from briefings import IssueBriefings, briefings_for
from config.settings import Settings
from corpus.articles import Article
from retrieval.build import Progress
from retrieval.encoder import Encoder
from retrieval.index import PassageIndex
from retrieval.records import ArticleInfo
from storage import open_store
from tenancy.asking import CoverageCache, ask_libraries
from tenancy.combined import CombinedIndex
from tenancy.layout import (
    LibraryPaths,
    check_server_id,
    library_id,
    library_settings,
    server_paths,
    tables_of,
)
from tenancy.server_settings import EffectiveSettings, ServerSettings, ServerSettingsStore
from tradetalk.answer import Answer
from tradetalk.audit import AuditLog
from tradetalk.engine import Engine, IngestResult
from tradetalk.errors import TradeTalkError, UnknownServer

log = logging.getLogger(__name__)

GLOBAL = "global"
SERVER = "server"


class ServerLibrary:
    """One Discord server: where its files are, its settings and audit log, and its engine
    while its index is loaded. Created on first mention; cheap until loaded."""

    def __init__(self, server_id: int, paths: LibraryPaths, settings: Settings) -> None:
        """`settings`: the process's (the library's own follow from them)."""
        self.server_id = server_id
        self.paths = paths
        self.settings_store = ServerSettingsStore(tables_of(settings, server_id, "settings"))
        self.audit = AuditLog(tables_of(settings, server_id, "audit"))
        # Asked whether the library exists and holds anything, without loading it.
        self.store = open_store(
            library_settings(settings, server_id),
            library=library_id(server_id),
            bundled=False,
            follow=False,
        )
        self.engine: Engine | None = None
        self.view: ServerView | None = None
        self.coverage = CoverageCache()
        self.users = 0  # callers inside `Libraries.using`: never evicted while > 0
        self.loaded_bytes = 0
        self.load_lock = threading.Lock()


class Libraries:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        encoder: Encoder | None = None,
        batch_queries: bool = False,
    ) -> None:
        """`engine` is the global library's (built from `settings` if not given, with
        `encoder` and `batch_queries` as `Engine` takes them); every server's engine shares
        its encoder, loaded once on first use."""
        self.settings = settings
        self.global_engine = engine or Engine(
            settings, encoder=encoder, batch_queries=batch_queries
        )
        self.global_audit = AuditLog(tables_of(settings, None, "audit"))
        self.budget_bytes = settings.memory_budget_mb * 1024 * 1024
        self._servers: dict[int, ServerLibrary] = {}
        self._loaded: OrderedDict[int, ServerLibrary] = OrderedDict()  # least recent first
        self._lock = threading.Lock()
        self.loads = 0  # server indexes loaded so far (again after an eviction): for the bench

    def _server_engine(self, settings: Settings, server_id: int) -> Engine:
        shared = self.global_engine
        return Engine(
            settings,
            encoder=shared.loaded_encoder,
            encoder_factory=lambda: shared.encoder,
            bundled=False,
            library=library_id(server_id),
        )

    def open(self) -> None:
        """Load the global library (server libraries load when first needed)."""
        self.global_engine.open()

    def close(self) -> None:
        with self._lock:
            loaded = list(self._loaded.values())
            self._loaded.clear()
        for server in loaded:
            self._unload(server)
        self.global_engine.close()

    # -- servers ---------------------------------------------------------------------------

    def server(self, server_id: int) -> ServerLibrary:
        """The server's library (not loaded)."""
        server_id = check_server_id(server_id)
        with self._lock:
            found = self._servers.get(server_id)
            if found is None:
                found = self._servers[server_id] = ServerLibrary(
                    server_id, server_paths(self.settings.data_dir, server_id), self.settings
                )
            return found

    def settings_for(self, server_id: int | None) -> EffectiveSettings:
        """The channels, admin roles and cooldown that apply in a server (the environment's
        in direct messages)."""
        stored = (
            ServerSettings() if server_id is None else self.server(server_id).settings_store.load()
        )
        return stored.effective(self.settings)

    def stored_settings(self, server_id: int) -> ServerSettings:
        return self.server(server_id).settings_store.load()

    def save_settings(self, server_id: int, settings: ServerSettings) -> ServerSettings:
        return self.server(server_id).settings_store.save(settings)

    def audit(self, server_id: int | None) -> AuditLog:
        return self.global_audit if server_id is None else self.server(server_id).audit

    @contextlib.contextmanager
    def using(self, server_id: int, *, create: bool = False) -> Iterator[Engine | None]:
        """The server's engine, loaded if need be, kept loaded until the block ends. None when
        the server has no articles of its own (and `create` is false)."""
        server = self.server(server_id)
        with self._lock:
            server.users += 1
        try:
            engine = self._load(server, create)
            if engine is not None:
                with self._lock:
                    self._track(server)  # counted against the budget while in use, too
            yield engine
        finally:
            with self._lock:
                server.users -= 1
                if server.engine is not None:
                    self._track(server)
                evicted = self._over_budget(keep=server)
            for other in evicted:
                self._unload(other)

    def _track(self, server: ServerLibrary) -> None:
        """Note a loaded server as the most recently used, with its size (holding the lock)."""
        assert server.engine is not None
        server.loaded_bytes = server.engine.loaded_bytes()
        self._loaded[server.server_id] = server
        self._loaded.move_to_end(server.server_id)

    def _load(
        self,
        server: ServerLibrary,
        create: bool,
        opener: Callable[[Engine], object] | None = None,
    ) -> Engine | None:
        with server.load_lock:
            if server.engine is not None and not server.store.exists():
                # Purged by another process (`tradetalk purge-server`): start afresh.
                log.info("server %s's library is gone; unloading it", server.server_id)
                self._drop(server)
            if server.engine is not None:
                return server.engine
            if not create and not server.store.has_articles():
                return None
            settings = library_settings(self.settings, server.server_id)
            engine = self._server_engine(settings, server.server_id)
            if opener is not None:
                opener(engine)
            else:
                engine.open()
            server.engine = engine
            self.loads += 1
            log.info("loaded the library of server %s", server.server_id)
            return engine

    def _over_budget(self, keep: ServerLibrary) -> list[ServerLibrary]:
        """Least recently used idle libraries to unload so the rest fit the budget (call
        holding the lock). The one just used stays even if it alone is over budget."""
        total = sum(s.loaded_bytes for s in self._loaded.values())
        evicted = []
        for server_id, server in list(self._loaded.items()):
            if total <= self.budget_bytes:
                break
            if server is keep or server.users:
                continue
            del self._loaded[server_id]
            total -= server.loaded_bytes
            evicted.append(server)
        return evicted

    def _unload(self, server: ServerLibrary) -> None:
        with server.load_lock:
            if server.users:  # taken again since it was picked: it stays
                with self._lock:
                    self._loaded[server.server_id] = server
                return
            self._drop(server)

    @staticmethod
    def _drop(server: ServerLibrary) -> None:
        engine, server.engine, server.view = server.engine, None, None
        server.loaded_bytes = 0
        server.coverage = CoverageCache()
        if engine is not None:
            engine.close()  # builds still leased close when their searches end

    def loaded(self) -> list[int]:
        """Servers whose index is loaded now, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(s.loaded_bytes for s in self._loaded.values())

    def left(self, server_id: int) -> None:
        """The bot was removed from a server: note when (its data is kept for the retention
        period, `tenancy.retention`) and unload it."""
        server = self.server(server_id)
        # A server that never stored anything leaves nothing.
        if server.paths.root.is_dir() or server.store.exists():
            server.settings_store.mark_left()
        self.forget(server_id)

    def joined(self, server_id: int) -> None:
        """The bot is in a server (again): a pending purge is called off."""
        self.server(server_id).settings_store.mark_joined()

    def forget(self, server_id: int) -> None:
        """Unload a server and drop it from memory (the bot left it, or it is being purged)."""
        with self._lock:
            server = self._servers.pop(check_server_id(server_id), None)
            self._loaded.pop(server_id, None)
        if server is not None:
            with server.load_lock:
                self._drop(server)

    # -- questions -------------------------------------------------------------------------

    def ask(self, server_id: int | None, question: str, *, previous: str | None = None) -> Answer:
        """Answer a question asked in a server (its library and the global one) or, with
        None, from the global library alone. Raises `QuestionError`."""
        if server_id is None:
            return ask_libraries([(GLOBAL, self.global_engine)], question, previous=previous)
        with self.using(server_id) as own:
            libraries: list[tuple[str, Engine]] = [(GLOBAL, self.global_engine)]
            if own is not None:
                libraries.append((SERVER, own))
            coverage = self.server(server_id).coverage
            return ask_libraries(libraries, question, previous=previous, coverage=coverage)

    def articles(self, server_id: int | None) -> list[ArticleInfo]:
        """What questions in a server read: its own articles, then the global library's, each
        labelled; with None, the global library's."""
        shared = [replace(a, library=GLOBAL) for a in self.global_engine.articles()]
        if server_id is None:
            return shared
        return self.own_articles(server_id) + shared

    def own_articles(self, server_id: int | None) -> list[ArticleInfo]:
        """The articles a server added (None: the global library's), the ones its admins
        may remove."""
        if server_id is None:
            return [replace(a, library=GLOBAL) for a in self.global_engine.articles()]
        with self.using(server_id) as own:
            if own is None:
                return []
            return [replace(a, library=SERVER) for a in own.articles()]

    def briefings(self, server_id: int | None) -> IssueBriefings:
        """Issue briefings over what questions there read, with the server's own catalogue
        changes and what's-new state (in its directory)."""
        if server_id is None:
            return briefings_for(self.global_engine)
        server = self.server(server_id)
        with server.load_lock:
            if server.view is None:
                server.view = ServerView(self, server)
            return server.view.briefings

    # -- changes ---------------------------------------------------------------------------

    def write(self, server_id: int | None, change: Callable[[Engine], Any]) -> Any:
        """Run `change` on the library's engine, creating the server's library if it has
        none yet (the first /ingest)."""
        if server_id is None:
            return change(self.global_engine)
        with self.using(server_id, create=True) as engine:
            assert engine is not None
            return change(engine)

    def ingest_bytes(
        self, server_id: int | None, data: bytes, name: str, **kwargs: Any
    ) -> IngestResult:
        return self.write(server_id, lambda e: e.ingest_bytes(data, name, **kwargs))

    def ingest_articles(
        self, server_id: int | None, articles: Sequence[Article], progress: Progress | None = None
    ) -> list[IngestResult | TradeTalkError]:
        return self.write(server_id, lambda e: e.ingest_articles(articles, progress))

    def remove(self, server_id: int | None, article_id: str, *, wait: bool = True) -> ArticleInfo:
        return self.write(server_id, lambda e: e.remove(article_id, wait=wait))

    def rebuild(self, server_id: int | None, progress: Progress | None = None) -> PassageIndex:
        return self.write(server_id, lambda e: e.rebuild(progress))

    def merge(self, server_id: int | None) -> int:
        """Merge the library's index segments if its merge policy asks for it (after a
        write); the number of merges published. A server's library is held loaded meanwhile."""
        if server_id is None:
            engine = self.global_engine
            return engine.merge() if engine.merge_pending() else 0
        with self.using(server_id) as own:
            if own is None or not own.merge_pending():
                return 0
            return own.merge()

    def engine(
        self,
        server_id: int | None,
        *,
        create: bool = False,
        opener: Callable[[Engine], object] | None = None,
    ) -> Engine:
        """The library's engine, loaded and never unloaded: for a one-shot CLI command.
        `UnknownServer` if the server has no library and `create` is false; `opener` opens a
        server's engine (the CLI shows a progress bar while it embeds)."""
        if server_id is None:
            return self.global_engine
        server = self.server(server_id)
        with self._lock:
            server.users += 1  # held for good
        engine = self._load(server, create=create, opener=opener)
        if engine is None:
            raise UnknownServer(f"server {server_id} has no library yet (ingest an article first)")
        return engine


class ServerView:
    """What a server's briefings read: the global library's build followed by the server's
    (`CombinedIndex`), or the global build alone while the server has no articles; with the
    server's directory for its catalogue changes, issue vectors and what's-new state."""

    def __init__(self, libraries: Libraries, server: ServerLibrary) -> None:
        self._libraries = libraries
        self.server_id = server.server_id
        self.settings = library_settings(libraries.settings, server.server_id)
        self._combined: CombinedIndex | None = None
        self.briefings = IssueBriefings(self)  # type: ignore[arg-type]  (engine-shaped)

    @property
    def encoder(self) -> Encoder:
        return self._libraries.global_engine.encoder

    @contextlib.contextmanager
    def leased(self) -> Iterator[PassageIndex | CombinedIndex]:
        libraries = self._libraries
        with libraries.using(self.server_id) as own, libraries.global_engine.leased() as shared:
            if own is None:
                yield shared
                return
            with own.leased() as mine:
                if not mine.articles:
                    yield shared
                    return
                combined = self._combined
                if combined is None or combined.first is not shared or combined.second is not mine:
                    combined = self._combined = CombinedIndex(shared, mine)
                yield combined

    @property
    def index(self) -> PassageIndex | CombinedIndex:
        """The articles of what is read now (for listing; scans lease instead)."""
        with self.leased() as index:
            return index
