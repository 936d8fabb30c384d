"""``tradetalk migrate --to postgres``: copy every library of the data dir into the database
named by ``TRADETALK_DATABASE_URL`` (`storage.migrate`), and say what was copied and checked."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer

from errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from config.settings import Settings


def register_migrate_command(
    app: typer.Typer,
    *,
    settings: Callable[[], Settings],
    failures: Callable[[], AbstractContextManager[None]],
    out: Console,
) -> None:
    @app.command("migrate")
    def migrate(
        to: Annotated[str, typer.Option("--to", help="Where to: postgres.")] = "postgres",
    ) -> None:
        """Copy the data dir's libraries (every server's) into PostgreSQL, checked; safe to run
        again."""
        with failures():
            config = settings()
            if to != "postgres":
                raise ConfigError(f"can only migrate to postgres, not {to!r}")
            if config.database_url is None:
                raise ConfigError("set TRADETALK_DATABASE_URL to the database to migrate to")
            for line in migrate_data_dir(config):
                out.print(line, markup=False)


def migrate_data_dir(config: Settings) -> list[str]:
    from storage import open_store
    from storage.local import LocalStore
    from storage.migrate import migrate
    from storage.postgres.store import PostgresStore
    from storage.tables import SqliteTables
    from tenancy.layout import SMALL_STORES, library_id, server_ids, settings_of, tables_of

    local = config.model_copy(update={"database_url": None})

    def local_store(server_id: int | None) -> LocalStore:
        store = open_store(
            settings_of(local, server_id), library=library_id(server_id), bundled=server_id is None
        )
        assert isinstance(store, LocalStore)
        return store

    def database_store(server_id: int | None) -> PostgresStore:
        store = open_store(
            settings_of(config, server_id),
            library=library_id(server_id),
            bundled=server_id is None,
            follow=False,
        )
        assert isinstance(store, PostgresStore)
        return store

    def local_tables(server_id: int | None, store: str) -> SqliteTables:
        file, schema, _, _ = SMALL_STORES[store]
        return SqliteTables(settings_of(local, server_id).data_dir / file, schema)

    results = migrate(
        config,
        libraries=[None, *server_ids(config.data_dir)],
        local_store=local_store,
        database_store=database_store,
        local_tables=local_tables,
        database_tables=lambda server_id, store: tables_of(config, server_id, store),
    )
    lines = []
    for r in results:
        what = "copied and checked" if r.copied else "in the database already; checked"
        rows = ", ".join(f"{n} {t}" for t, n in sorted(r.rows.items()))
        lines.append(
            f"{r.library}: {r.articles} articles, {r.segments} segments, {r.passages:,} passages,"
            f" {r.sentences:,} sentences{'; ' + rows if rows else ''}: {what}"
        )
    lines.append(f"migrated {len(results)} libraries; every article and vector accounted for")
    return lines
