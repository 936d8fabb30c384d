"""Where each library lives in the data directory.

The global library keeps the layout a data directory has always had, so existing data
directories need no migration; each Discord server gets a directory of its own under
``servers/``, laid out the same way plus its settings::

    DATA_DIR/                       the global library (bundled corpus + the owner's articles)
      articles/  index/  issues.toml  audit.sqlite  feedback.sqlite3  briefings/  logs/
      feeds.sqlite3                 the feeds it follows (`tradetalk follow` without --server)
      servers/<server id>/          one Discord server's library
        articles/  index/  issues.toml  audit.sqlite  feedback.sqlite3  briefings/
        feeds.sqlite3  feeds.lock   the feeds its admins follow, their items; a round's lock
        settings.sqlite             its /settings, and when the bot left it
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from errors import ConfigError

log = logging.getLogger(__name__)

SERVERS_DIR = "servers"
SETTINGS_FILE = "settings.sqlite"
AUDIT_FILE = "audit.sqlite"
FEEDBACK_FILE = "feedback.sqlite3"  # bot.feedback_store.FILE_NAME
FEEDS_FILE = "feeds.sqlite3"  # feeds.store.FILE_NAME
# Discord ids are 64-bit snowflakes: anything else is not a server and must not become a path.
MAX_SNOWFLAKE = (1 << 64) - 1


# A server's directory name: its id in ASCII digits, as `str(int)` writes it ("²" and "٣" are
# digits to `str.isdigit`, but int("²") fails and int("٣") names another directory).
_SERVER_NAME = re.compile(r"[1-9][0-9]{0,19}")


def check_server_id(server_id: object) -> int:
    """`server_id` as a Discord server id; `ConfigError` for anything else (it names a
    directory, so "../x" or "-1" must never get through)."""
    if isinstance(server_id, str) and re.fullmatch(r"[0-9]+", server_id.strip(), re.ASCII):
        server_id = int(server_id.strip())
    if isinstance(server_id, bool) or not isinstance(server_id, int):
        raise ConfigError(f"{server_id!r} is not a Discord server id (a number)")
    if not 0 < server_id <= MAX_SNOWFLAKE:
        raise ConfigError(f"{server_id} is not a Discord server id")
    return server_id


@dataclass(frozen=True)
class LibraryPaths:
    """The files of one library (the global one or a server's)."""

    root: Path

    @property
    def articles(self) -> Path:
        return self.root / "articles"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def audit(self) -> Path:
        return self.root / AUDIT_FILE

    @property
    def feedback(self) -> Path:
        return self.root / FEEDBACK_FILE

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def feeds(self) -> Path:
        return self.root / FEEDS_FILE

    def has_articles(self) -> bool:
        """Does this library hold any article of its own, on disk? A built index, or an
        article file not yet indexed: two system calls, no parsing."""
        if (self.index / "current").is_symlink():
            return True
        try:
            return any(not p.name.startswith(".") for p in self.articles.iterdir())
        except OSError:
            return False


def servers_root(data_dir: Path) -> Path:
    return data_dir / SERVERS_DIR


def server_paths(data_dir: Path, server_id: int) -> LibraryPaths:
    """The server's library, checked to be its own: `ConfigError` if its directory, or
    anything directly in it, is a link that leads out of it (``servers/333 -> 111`` would
    make 333's purge delete 111's data; ``servers/444/articles -> ../../articles`` would let
    444's admin remove the global library's articles)."""
    root = servers_root(data_dir)
    paths = LibraryPaths(root / str(check_server_id(server_id)))
    _check_own(paths.root, root)
    return paths


def _check_own(library: Path, servers: Path) -> None:
    # The message may reach a Discord admin: it names the server, not the data dir's paths
    # (the log has those).
    server = f"server {library.name}'s library"
    try:
        if not os.path.lexists(library):
            return  # made when something is added to it, by mkdir: a real directory
        real = library.resolve(strict=True)
        if library.is_symlink() or real != servers.resolve() / library.name:
            log.warning("%s is a link to %s: refusing to use it", library, real)
            raise ConfigError(
                f"{server} is a link to another directory, not one of its own; refusing to use "
                "it (remove the link from the data directory)"
            )
        with os.scandir(library) as entries:
            for entry in entries:
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not target.is_relative_to(real):
                        log.warning("%s is a link out of its library (to %s)", entry.path, target)
                        raise ConfigError(
                            f"{server} holds a link out of it ({entry.name}); refusing to use "
                            "it (remove the link from the data directory)"
                        )
    except OSError as exc:  # a link loop, a directory that can't be read
        raise ConfigError(f"{server} can't be checked ({exc.strerror or exc})") from exc


def server_ids(data_dir: Path) -> list[int]:
    """Every server with a directory of its own here, in id order (leftovers of a purge, links
    and names that are not ids are skipped)."""
    root = servers_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in root.iterdir()
        if _SERVER_NAME.fullmatch(p.name)
        and int(p.name) <= MAX_SNOWFLAKE
        and p.is_dir()
        and not p.is_symlink()
    )


def libraries_with_feeds(data_dir: Path) -> list[int | None]:
    """The libraries that follow feeds (have a feed store): None for the global one, then
    servers in id order. A stat per server, nothing opened."""
    found: list[int | None] = [None] if (data_dir / FEEDS_FILE).is_file() else []
    # Unchecked paths: a library that fails `server_paths`' check fails its own round only.
    root = servers_root(data_dir)
    found += [s for s in server_ids(data_dir) if (root / str(s) / FEEDS_FILE).is_file()]
    return found


def library_settings(settings: Settings, server_id: int) -> Settings:
    """The settings a server's engine runs with: the same model and limits, its own data
    directory (its articles, index, issues.toml and briefings cache follow from it)."""
    return settings.model_copy(update={"data_dir": server_paths(settings.data_dir, server_id).root})
