"""Tenancy with the tiny test encoder: server ids as paths, server settings, merging two
libraries' results, lazy loading and eviction under the memory budget, retention."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from conftest import ARTICLES, HashingEncoder

from config.settings import Settings
from errors import ConfigError, SettingError, UnknownServer
from retrieval.multi_search import LibraryResult, merge_results
from tenancy import Libraries
from tenancy.layout import check_server_id, server_paths, stored_server_ids
from tenancy.retention import expired_servers, purge_server, server_summaries
from tenancy.server_settings import ServerSettings, ServerSettingsStore, validated

# Each test runs on the local store and again on PostgreSQL (conftest.store_kind).
pytestmark = [pytest.mark.usefixtures("store_kind")]

NORTHERN = ARTICLES / "2018-09-01-northern-ledger-week-ends-without-deal.md"
CAPITAL = ARTICLES / "2018-08-27-capital-wire-us-mexico-preliminary-deal.md"
PRAIRIE = ARTICLES / "2018-10-02-prairie-times-usmca-fine-print.md"


@pytest.fixture
def libraries(tmp_path: Path) -> Libraries:
    libs = Libraries(Settings(data_dir=tmp_path / "data"), encoder=HashingEncoder())
    libs.open()
    yield libs
    libs.close()


@pytest.mark.parametrize("bad", ["../etc", "-1", "0", -5, 0, 1 << 64, "1/2", True, 1.5, ""])
def test_only_discord_ids_name_a_server_directory(bad: object) -> None:
    with pytest.raises(ConfigError):
        check_server_id(bad)
    assert check_server_id("1092386412345678901") == 1092386412345678901


def test_server_settings_round_trip_and_validation(tmp_path: Path) -> None:
    store = ServerSettingsStore(tmp_path / "settings.sqlite")
    assert store.load() == ServerSettings()
    saved = store.save(validated(ServerSettings(), channel_ids=(3, 3, 4), cooldown_rate=2))
    assert saved.channel_ids == (3, 4) and store.load() == saved
    # Another process (a fresh store) reads what was written.
    assert ServerSettingsStore(tmp_path / "settings.sqlite").load() == saved
    defaults = Settings(channel_ids=[9], cooldown_rate=4, cooldown_seconds=30)
    effective = saved.effective(defaults)
    assert effective.channel_ids == {3, 4} and effective.cooldown_rate == 2
    assert effective.cooldown_seconds == 30  # not set here: the environment's
    back = store.save(validated(saved, channel_ids=None))
    assert back.effective(defaults).channel_ids == {9}
    for bad in ({"cooldown_rate": 0}, {"cooldown_seconds": 99999}, {"channel_ids": range(60)}):
        with pytest.raises(SettingError):
            validated(saved, **bad)


def test_merged_results_keep_rows_distinct_and_know_what_any_library_knows(
    libraries: Libraries,
) -> None:
    libraries.ingest_bytes(1, PRAIRIE.read_bytes(), PRAIRIE.name)
    shared, own = libraries.global_engine, libraries.engine(1)
    question = "biologic drug data protection zzqx"
    vector = shared.query_vector(question)
    with shared.leased() as g, own.leased() as s:
        parts = [
            LibraryResult("global", g, shared.search_index(g, question, 16, vector=vector)),
            LibraryResult("server", s, own.search_index(s, question, 16, vector=vector)),
        ]
        merged = merge_results(parts, 16)
    rows = [h.record.row for h in merged.hits]
    assert len(rows) == len(set(rows))  # the server's rows follow the global library's
    assert {h.article.library for h in merged.hits} == {"global", "server"}
    assert [h.rank for h in merged.hits] == list(range(1, len(merged.hits) + 1))
    assert [h.score for h in merged.hits] == sorted((h.score for h in merged.hits), reverse=True)
    # "biolog" is unknown to the global library only: known to the merged result.
    assert "biolog" in parts[0].result.unknown_tokens
    assert "biolog" not in merged.unknown_tokens and "zzqx" in merged.unknown_tokens
    # Its weight is the server library's (the one whose passages hold it).
    assert merged.token_weights["biolog"] == parts[1].result.token_weights["biolog"]


def test_a_server_without_articles_reads_the_global_library_alone(libraries: Libraries) -> None:
    question = "What is blocking the deal?"
    alone = libraries.global_engine.ask(question)
    served = libraries.ask(1, question)
    assert served.text == alone.text
    assert [(h.record.id, h.score) for h in served.hits] == [
        (h.record.id, h.score) for h in alone.hits
    ]
    assert not server_paths(libraries.settings.data_dir, 1).root.exists()  # nothing created
    assert libraries.loaded() == []


def test_server_indexes_load_lazily_and_the_least_recent_go_over_budget(
    libraries: Libraries,
) -> None:
    for server in (1, 2, 3, 4):
        libraries.ingest_bytes(server, NORTHERN.read_bytes(), NORTHERN.name)
    libraries.close()
    libs = Libraries(libraries.settings, encoder=HashingEncoder())
    libs.open()
    assert libs.loaded() == []  # nothing loaded until asked
    libs.ask(1, "What happened this week?")
    one = libs.loaded_bytes()
    assert libs.loaded() == [1] and one > 0
    libs.budget_bytes = 2 * one  # room for two server indexes
    for server in (2, 3):
        libs.ask(server, "What happened this week?")
    assert libs.loaded() == [2, 3]  # 1 was the least recently used
    libs.ask(2, "Did they reach a deal?")
    libs.ask(4, "Did they reach a deal?")
    assert libs.loaded() == [2, 4]
    # An evicted server answers again (reloaded), and one in use is never evicted.
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with libs.using(3):
            entered.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(10)
    libs.ask(1, "What happened this week?")
    libs.ask(2, "What happened this week?")
    assert 3 in libs.loaded()
    leave.set()
    holder.join()
    assert libs.ask(1, "What happened this week?").extras["searched"] == ("global", "server")
    assert 1 in libs.loaded()
    libs.close()


def test_retention_purges_only_servers_left_long_enough(libraries: Libraries) -> None:
    settings = libraries.settings.model_copy(update={"retention_days": 30.0})
    for server in (1, 2, 3):
        libraries.ingest_bytes(server, CAPITAL.read_bytes(), CAPITAL.name)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    libraries.server(1).settings_store.mark_left(long_ago)
    libraries.server(2).settings_store.mark_left()  # just now: kept
    assert expired_servers(settings) == [1]
    summaries = {s.server_id: s for s in server_summaries(settings)}
    assert summaries[1].articles == 1 and summaries[1].size_bytes > 0
    assert summaries[1].left_at and summaries[1].purge_after and summaries[3].left_at is None

    libraries.forget(1)
    removed = purge_server(settings, 1)
    assert removed.articles == 1
    assert stored_server_ids(settings) == [2, 3]
    assert [a.title for a in libraries.own_articles(2)] == [
        a.title for a in libraries.own_articles(3)
    ]
    with pytest.raises(UnknownServer):
        purge_server(settings, 1)
    # A server invited back before its time is not purged.
    libraries.joined(2)
    assert expired_servers(settings, dt.datetime.now(dt.UTC) + dt.timedelta(days=60)) == []
