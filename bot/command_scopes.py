"""Where the slash commands were last registered (globally, or in which servers), so a change of
``TRADETALK_GUILD_IDS`` leaves each command listed once.

Discord keeps global commands and a server's own commands apart and shows a server both, so a
bot registered globally and then in one server (or the other way round) has every command
listed twice there until the other registration is emptied. The bot empties it when it syncs:
the global list when it registers per server, and the servers it registered in last time (kept
in ``DATA_DIR/command-scopes.json``) that are no longer configured."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "command-scopes.json"


@dataclass(frozen=True)
class CommandScopes:
    """The registration of the last sync: global, and the servers with their own copy."""

    global_: bool = False
    guilds: tuple[int, ...] = ()


def load(data_dir: Path) -> CommandScopes:
    path = data_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CommandScopes(
            bool(data.get("global")), tuple(int(g) for g in data.get("guilds", []))
        )
    except FileNotFoundError:
        return CommandScopes()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring %s (%s); assuming no earlier registration", path, exc)
        return CommandScopes()


def save(data_dir: Path, scopes: CommandScopes) -> None:
    """Written atomically (a temporary file renamed over it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    payload = {"global": scopes.global_, "guilds": list(scopes.guilds)}
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{FILE_NAME}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, data_dir / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
