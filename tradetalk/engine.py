"""The engine: articles + index + encoder, behind the few operations users need.

Its two halves are `tradetalk.reading.Reading` (the build served, search, answers) and
`tradetalk.writing.Writing` (loading, ingest, remove, merge, rebuild).

Both the CLI and the Discord bot drive this class. It is thread-safe: searches run in worker
threads while a rebuild or an ingest prepares the next index build, which is swapped in whole.

Several processes may share one data dir (the bot, a CLI ingest). Every write takes the
cross-process lock and starts from the newest build on disk, never from this process's
snapshot; before each question, one ``readlink`` tells whether another process published a
newer build, which is then loaded and swapped in. A swapped-out build closes only when the
last search holding it (a lease) finishes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from config.settings import Settings
from retrieval.encoder import Encoder, default_model_path, model_fingerprint
from retrieval.encoder_loading import load_encoder
from retrieval.index import PassageIndex
from retrieval.manifest import read_manifest
from storage import LibraryStore, open_store
from tradetalk.answer import AnswerPolicy
from tradetalk.errors import TradeTalkError
from tradetalk.reading import CANDIDATE_PASSAGES, Reading, coverage_of, years_of
from tradetalk.writing import IngestResult, Writing, storage_errors

__all__ = [
    "CANDIDATE_PASSAGES",
    "Engine",
    "IngestResult",
    "coverage_of",
    "storage_errors",
    "years_of",
]


class Engine(Reading, Writing):
    def __init__(
        self,
        settings: Settings,
        *,
        encoder: Encoder | None = None,
        encoder_factory: Callable[[], Encoder] | None = None,
        batch_queries: bool = False,
        bundled: bool = True,
        store: LibraryStore | None = None,
        library: str = "global",
    ) -> None:
        """`batch_queries` merges questions encoded at the same moment from several threads
        into one model call (`retrieval.batching`): for the bot, where a whole server asks at
        once; a one-shot CLI gains nothing from it. ``bundled=False`` leaves the bundled corpus
        out: a Discord server's own library (`tenancy`), searched beside the global one. `store`
        is where the library is kept (default: `storage.open_store` for `library`, "global" or a
        server id: its directory of the data dir, or the database)."""
        self.settings = settings
        self._batch_queries = batch_queries
        self.store: LibraryStore = store or open_store(settings, library=library, bundled=bundled)
        self.library = self.store.articles  # the sources its index is built from
        self.storage = self.store.builds  # where this process reads and writes builds
        self._encoder = encoder
        self._encoder_factory = encoder_factory or self._default_encoder
        self._encoder_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one change at a time in this process
        self._index_lock = threading.Lock()  # guards which build is served, and its leases
        self._follow_lock = threading.Lock()  # one thread loads another process's build
        self._index: PassageIndex | None = None
        self._unusable: set[str] = set()  # builds on disk that failed to load: not retried
        self._coverage: tuple[PassageIndex, str] | None = None  # (index, its summary)
        self._years_of: tuple[PassageIndex, range] | None = None
        self._closing = False  # set by close(): a merge in progress stops after its step
        self._merge_publishing = False  # a merge holds the write lock to publish (briefly)
        self.rebuilding = False
        self._answer_policy: AnswerPolicy | None = None

    # -- set-up ---------------------------------------------------------------------------

    def _default_encoder(self) -> Encoder:
        encoder = load_encoder(
            self.settings.model_path,
            backend=self.settings.backend,
            cache_dir=self.settings.model_cache,  # where the ONNX export is kept
        )
        if self._batch_queries:
            from retrieval.batching import BatchingEncoder

            return BatchingEncoder(encoder)
        return encoder

    @property
    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
            return self._encoder

    @property
    def loaded_encoder(self) -> Encoder | None:
        """The encoder if it is loaded already (the model loads on first use)."""
        return self._encoder

    def expected_model_id(self) -> str:
        if self._encoder is not None:
            return self._encoder.model_id
        return model_fingerprint(Path(self.settings.model_path or default_model_path()))

    def expected_backend(self) -> str:
        """The backend the index must be built with: the given encoder's, else the setting's."""
        if self._encoder is not None:
            return str(getattr(self._encoder, "backend", self.settings.backend))
        return self.settings.backend

    def needs_build(self) -> bool:
        """True when opening will embed the whole corpus (first run, or another model)."""
        current = self.storage.current_dir()
        if current is None:
            return True
        try:
            manifest = read_manifest(current)
        except TradeTalkError:
            return True
        return (
            manifest.model_id != self.expected_model_id()
            or manifest.backend != self.expected_backend()
        )

    def close(self) -> None:
        """Release the open index files (SQLite connections). Builds still leased by a search
        close when it finishes."""
        self._closing = True
        with self._index_lock:
            index, self._index = self._index, None
        if index is not None:
            index.retire()
        self.store.close()
