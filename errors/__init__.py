"""The one error hierarchy of TradeTalk, on the ground floor: every package imports it, and it
imports nothing of TradeTalk's.

Every error a user can cause or meet derives from `TradeTalkError`; its message is a single
readable line. The CLI prints it and exits non-zero, the bot turns it into a short ephemeral
reply. Library errors are wrapped with ``raise ... from exc`` so logs keep the original cause.
"""

from __future__ import annotations

__all__ = [
    "ArticleError",
    "ArticleNotFound",
    "ConfigError",
    "FeedError",
    "FetchError",
    "IndexBusy",
    "IndexCorrupt",
    "IndexOutdated",
    "ModelError",
    "QuestionError",
    "ReadOnlyArticle",
    "SettingError",
    "StartupError",
    "StorageError",
    "StoreUnavailable",
    "TradeTalkError",
    "UnknownIssue",
    "UnknownServer",
]


class TradeTalkError(Exception):
    """Base class: ``str(error)`` is one line fit to show a user."""

    exit_code = 1


class ConfigError(TradeTalkError):
    """A setting is missing or invalid."""

    exit_code = 2


class ArticleError(TradeTalkError):
    """An article cannot be read, parsed or stored (bad file, empty, too large, binary...)."""


class FetchError(ArticleError):
    """A URL could not be fetched safely (scheme, private address, size, timeout, status)."""


class FeedError(TradeTalkError):
    """A feed can't be followed or read: a bad link, not a feed, not followed, another poll
    running."""


class ArticleNotFound(TradeTalkError):
    """No article has the given id."""


class ReadOnlyArticle(TradeTalkError):
    """The bundled corpus cannot be changed."""


class IndexCorrupt(TradeTalkError):
    """Index files on disk do not match their manifest (truncated, damaged, other model)."""


class IndexOutdated(IndexCorrupt):
    """An index build written by another version of TradeTalk: rebuilt, never read."""


class StorageError(TradeTalkError):
    """The data directory can't be written (disk full, read-only, permissions)."""


class IndexBusy(TradeTalkError):
    """A rebuild is already running."""


class StartupError(TradeTalkError):
    """The bot cannot start whole (one of its command modules failed to load)."""

    exit_code = 2


class ModelError(TradeTalkError):
    """The embedding model cannot be loaded from local files."""


class QuestionError(TradeTalkError):
    """The question is empty, too long or not a question we can search for."""


class UnknownIssue(TradeTalkError):
    """No negotiation issue in the catalogue matches the topic."""


class UnknownServer(TradeTalkError):
    """No Discord server with this id has a library in the data directory."""


class SettingError(TradeTalkError):
    """A /settings value is invalid (an unknown channel or role, a cooldown out of range)."""


class StoreUnavailable(StorageError):
    """The database holding the libraries cannot be reached (restarting, say): the request is
    refused politely, and the next one tries again."""
