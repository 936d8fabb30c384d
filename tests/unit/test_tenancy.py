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
from tenancy.layout import check_server_id, server_ids, server_paths, stored_server_ids
from tenancy.retention import expired_servers, purge_server, server_summaries, sweep_leftovers
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


@pytest.mark.parametrize(
    "bad", ["../etc", "-1", "0", -5, 0, 1 << 64, "1/2", True, 1.5, "", "²", "٣", "1²"]
)
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


@pytest.mark.parametrize("store_kind", ["local"], indirect=True)  # server folders: local only
def test_a_folder_whose_name_is_not_an_id_is_no_server(libraries: Libraries) -> None:
    """ "²" is a digit to `str.isdigit` but no int: a folder named so made `server_ids` raise,
    and with it `tradetalk servers`, the retention sweep and feed polling. "٣" is an int (3)
    but not the name of server 3's folder."""
    settings = libraries.settings
    libraries.ingest_bytes(5, CAPITAL.read_bytes(), CAPITAL.name)
    root = settings.data_dir / "servers"
    for name in ("²", "٣", "007", "18446744073709551616", "notes"):
        (root / name).mkdir()
    assert server_ids(settings.data_dir) == [5]
    assert [s.server_id for s in server_summaries(settings)] == [5]
    assert expired_servers(settings) == []


@pytest.mark.parametrize("store_kind", ["local"], indirect=True)  # server folders: local only
def test_a_library_that_links_out_of_itself_is_refused(libraries: Libraries) -> None:
    """``servers/333 -> 111`` made 333's purge rename the link away and leave it for ever (and
    could have purged 111's data); ``servers/444/articles -> ../../articles`` let 444's admin
    remove a global article. Paths are resolved, and a library that leaves itself is refused;
    the other servers carry on."""
    settings = libraries.settings
    data = settings.data_dir
    libraries.ingest_bytes(None, NORTHERN.read_bytes(), NORTHERN.name)
    [global_article] = [a for a in libraries.own_articles(None) if not a.bundled]
    libraries.ingest_bytes(111, CAPITAL.read_bytes(), CAPITAL.name)
    (data / "servers" / "333").symlink_to("111")
    (data / "servers" / "444").mkdir()
    (data / "servers" / "444" / "articles").symlink_to(Path("..", "..", "articles"))
    for server in (333, 444):
        with pytest.raises(ConfigError, match=f"server {server}'s library .*refusing"):
            libraries.remove(server, global_article.id)
        with pytest.raises(ConfigError, match=f"server {server}'s library"):
            purge_server(settings, server)
    assert global_article.id in {a.id for a in libraries.own_articles(None)}
    assert (data / "articles" / f"{global_article.id}.md").exists()
    assert [p.name for p in (data / "servers").iterdir() if p.name.startswith(".")] == []
    assert server_ids(data) == [111, 444]  # the link is no server; 444 is, and fails the check
    assert [s.server_id for s in server_summaries(settings)] == [111]
    assert len(libraries.own_articles(111)) == 1
    # A link inside a library that stays inside it is its own business.
    (data / "servers" / "111" / "latest").symlink_to("articles")
    assert server_paths(data, 111).root == data / "servers" / "111"


def test_a_leftover_link_of_an_old_purge_is_swept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    servers = settings.data_dir / "servers"
    (servers / "111").mkdir(parents=True)
    (servers / ".purging-333-0a1b2c3d").symlink_to("111")
    sweep_leftovers(settings)
    assert [p.name for p in servers.iterdir()] == ["111"]
