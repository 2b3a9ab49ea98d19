"""The run history against a real SQLite file: what ``llamaburn history``, the UI and exports rely on."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text

from llamaburn.errors import ConfigError, StoreError
from llamaburn.storage import schema
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import ENV_URL, Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_run(run_id: str, minutes: int = 0, **fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "id": run_id,
        "created_at": T0 + timedelta(minutes=minutes),
        "modality": "text",
        "backend": "ollama",
        "model": "llama3.2:1b",
        "status": "running",
    }
    values.update(fields)
    return RunRecord(**values)


def make_iteration(run_id: str, index: int, warmup: bool = False, **fields: Any) -> IterationRecord:
    return IterationRecord(run_id=run_id, index=index, warmup=warmup, **fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "h.db"


@pytest.fixture
def store(store_url: str) -> Store:
    """A store on each backend (SQLite, PostgreSQL: see ``store_url`` in conftest)."""
    return Store(store_url)


@pytest.fixture
def sqlite_store(db_path: Path) -> Store:
    """A store on a SQLite file, for what only SQLite has (WAL, the file itself)."""
    return Store(f"sqlite:///{db_path}")


def table_count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_list_runs_is_newest_first_and_pages_with_limit_and_offset(store: Store) -> None:
    for minutes, run_id in enumerate(["run-a", "run-b", "run-c", "run-d", "run-e"]):
        store.create_run(make_run(run_id, minutes=minutes))

    assert [run.id for run in store.list_runs()] == ["run-e", "run-d", "run-c", "run-b", "run-a"]
    assert [run.id for run in store.list_runs(limit=2)] == ["run-e", "run-d"]
    assert [run.id for run in store.list_runs(limit=2, offset=2)] == ["run-c", "run-b"]
    assert [run.id for run in store.list_runs(limit=2, offset=4)] == ["run-a"]
    assert store.list_runs(limit=2, offset=5) == []
    assert store.count_runs() == 5


def test_empty_history_counts_zero(store: Store) -> None:
    assert store.count_runs() == 0
    assert store.list_runs() == []


def test_get_run_by_full_id_and_by_unique_prefix(store: Store) -> None:
    store.create_run(make_run("3f2a9c1e-0000-4000-8000-000000000001", model="qwen"))
    store.create_run(make_run("7b4d2e8f-0000-4000-8000-000000000002", model="gemma"))

    assert store.get_run("3f2a9c1e-0000-4000-8000-000000000001").model == "qwen"
    assert store.get_run("7b4d2e8f").model == "gemma"  # the 8 characters `history` shows


def test_get_run_with_ambiguous_prefix_asks_for_more_characters(store: Store) -> None:
    store.create_run(make_run("abcd1111"))
    store.create_run(make_run("abcd2222"))

    with pytest.raises(ConfigError, match="ambiguous"):
        store.get_run("abcd")


def test_get_run_with_unknown_id_is_a_config_error(store: Store) -> None:
    store.create_run(make_run("abcd1111"))

    with pytest.raises(ConfigError, match="no run with id 'ffff0000'"):
        store.get_run("ffff0000")


@pytest.mark.parametrize(
    ("prefix", "found"),
    [
        ("abcd", "abcd-1"),  # its neighbours abcc-1, abce-1 and abc (shorter) are outside the range
        ("abcd-", "abcd-1"),
        ("ab_d", None),  # '_' and '%' are characters, not LIKE wildcards
        ("abc%", None),
        ("ABCD", None),  # a prefix is matched exactly, as a full id is
        ("zzz\U0010ffff", "zzz\U0010ffff-1"),  # the last code point: the range has no upper bound
        ("yyy\ud7ff", "yyy\ud7ff-1"),  # the next code point is a surrogate: the bound is U+E000
    ],
)
def test_get_run_by_prefix_matches_exactly_the_ids_that_start_with_it(
    store: Store, prefix: str, found: str | None
) -> None:
    for run_id in ["abc", "abcc-1", "abcd-1", "abce-1", "abxd-1", "zzz\U0010ffff-1", "yyy\ud7ff-1", "yyy\ue000-1"]:
        store.create_run(make_run(run_id))
    if found is None:
        with pytest.raises(ConfigError, match="no run with id"):
            store.get_run(prefix)
    else:
        assert store.get_run(prefix).id == found


def test_get_run_by_prefix_reads_a_range_of_the_primary_key(sqlite_store: Store) -> None:
    """Not a LIKE, which SQLite cannot answer from the index: 10 prefix lookups among 10,000 runs took 81 ms."""
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "substr" in statement:
            plans.extend(row[-1] for row in cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))

    sqlite_store.create_run(make_run("abcd1111"))
    event.listen(sqlite_store.engine, "before_cursor_execute", explain)
    try:
        assert sqlite_store.get_run("abcd").id == "abcd1111"
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", explain)
    [plan] = plans  # "SEARCH runs USING INDEX sqlite_autoindex_runs_1 (id>? AND id<?)" in SQLite 3.40
    assert "USING INDEX" in plan and plan.endswith("(id>? AND id<?)"), plan


def test_iterations_come_back_warmups_first_then_by_index(store: Store) -> None:
    store.create_run(make_run("run-a"))
    store.create_run(make_run("run-b"))
    # Written out of order, and interleaved with another run's iterations.
    store.add_iteration(make_iteration("run-a", 2, prompt="second"))
    store.add_iteration(make_iteration("run-b", 1))
    store.add_iteration(make_iteration("run-a", 2, warmup=True, prompt="warm 2"))
    store.add_iteration(make_iteration("run-a", 1, prompt="first"))
    store.add_iteration(make_iteration("run-a", 1, warmup=True, prompt="warm 1"))

    order = [(it.warmup, it.index, it.prompt) for it in store.iterations("run-a")]

    assert order == [(True, 1, "warm 1"), (True, 2, "warm 2"), (False, 1, "first"), (False, 2, "second")]


def test_delete_run_removes_the_run_and_its_iterations_only(store: Store) -> None:
    store.create_run(make_run("run-a"))
    store.create_run(make_run("run-b", minutes=1))
    for index in (1, 2):
        store.add_iteration(make_iteration("run-a", index))
        store.add_iteration(make_iteration("run-b", index))

    store.delete_run("run-a")

    assert [run.id for run in store.list_runs()] == ["run-b"]
    assert store.iterations("run-a") == []
    assert len(store.iterations("run-b")) == 2
    assert table_count(store, "iterations") == 2  # no orphans left behind


def test_delete_unknown_run_is_a_config_error_and_changes_nothing(store: Store) -> None:
    store.create_run(make_run("run-a"))
    store.add_iteration(make_iteration("run-a", 1))

    with pytest.raises(ConfigError, match="no run with id 'nope'"):
        store.delete_run("nope")

    assert store.count_runs() == 1
    assert len(store.iterations("run-a")) == 1
    assert table_count(store, "iterations") == 1


def test_clear_returns_how_many_runs_and_empties_both_tables(store: Store) -> None:
    for minutes, run_id in enumerate(["run-a", "run-b", "run-c"]):
        store.create_run(make_run(run_id, minutes=minutes))
        store.add_iteration(make_iteration(run_id, 1))

    assert store.clear() == 3
    assert store.count_runs() == 0
    assert table_count(store, "runs") == 0
    assert table_count(store, "iterations") == 0
    assert store.clear() == 0


def test_finish_run_records_status_summary_and_error(store: Store) -> None:
    store.create_run(make_run("run-a"))
    store.create_run(make_run("run-b"))

    store.finish_run("run-a", "completed", {"tps": {"mean": 42.5, "min": 40.0, "max": 45.0}}, None)
    store.finish_run("run-b", "failed", {}, "Ollama at http://127.0.0.1:11434 is not reachable")

    done, failed = Store(store.url).get_run("run-a"), Store(store.url).get_run("run-b")
    assert (done.status, done.summary, done.error) == (
        "completed",
        {"tps": {"mean": 42.5, "min": 40.0, "max": 45.0}},
        None,
    )
    assert (failed.status, failed.summary, failed.error) == (
        "failed",
        {},
        "Ollama at http://127.0.0.1:11434 is not reachable",
    )


def test_finish_unknown_run_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no run with id 'ghost'"):
        store.finish_run("ghost", "completed", {}, None)


def test_json_columns_round_trip(store: Store) -> None:
    config = {"prompt": "Explique la récursion 🔁", "iterations": 5, "temperature": 0.7, "stop": ["\n\n"], "seed": None}
    summary = {"tps": {"mean": 45.2, "min": 40.1, "max": 50.3}, "ttft_ms": {"mean": 89.0}}
    system = {"cpu": "Ryzen 7", "gpus": [{"name": "RTX 4090", "vram_mb": 24564}], "os": {"name": "Linux"}}
    metrics = {"ttft_ms": 12.5, "tps": None, "token_count_source": "server", "output_tokens": 128}
    store.create_run(make_run("run-a", config=config, summary=summary, system=system))
    store.add_iteration(make_iteration("run-a", 1, prompt="hi", output="héllo", metrics=metrics))

    reopened = Store(store.url)
    run = reopened.get_run("run-a")
    [iteration] = reopened.iterations("run-a")

    assert (run.config, run.summary, run.system) == (config, summary, system)
    assert (iteration.prompt, iteration.output, iteration.metrics) == ("hi", "héllo", metrics)


def test_created_at_comes_back_timezone_aware_utc(store: Store) -> None:
    created = datetime(2025, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)
    store.create_run(make_run("run-a", created_at=created))

    run = Store(store.url).get_run("run-a")

    assert run.created_at == created
    assert run.created_at.utcoffset() == timedelta(0)


def test_sqlite_file_is_in_wal_mode(sqlite_store: Store, db_path: Path) -> None:
    sqlite_store.create_run(make_run("run-a"))

    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_database_is_at_the_latest_schema_revision(store: Store) -> None:
    assert store.schema_version() == schema.head()


def test_reopening_keeps_data_and_does_not_rerun_migrations(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.create_run(make_run("run-a"))
    store.add_iteration(make_iteration("run-a", 1, output="kept"))
    ran: list[str] = []
    monkeypatch.setattr(MigrationContext, "run_migrations", lambda self, **kw: ran.append("ran"))

    reopened = Store(store.url)

    assert ran == ["ran"]  # Alembic is asked; at head it has nothing to apply
    assert reopened.schema_version() == schema.head()
    assert table_count(store, "alembic_version") == 1
    assert reopened.get_run("run-a").id == "run-a"
    assert [it.output for it in reopened.iterations("run-a")] == ["kept"]


def test_database_from_a_newer_llamaburn_asks_to_upgrade(sqlite_store: Store, db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff9999'")

    with pytest.raises(StoreError, match="upgrade LlamaBurn") as raised:
        Store(f"sqlite:///{db_path}")

    assert "schema revision ffff9999" in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1


def test_corrupt_file_is_a_store_error_naming_it_and_left_untouched(db_path: Path) -> None:
    garbage = os.urandom(8192)
    db_path.write_bytes(garbage)

    with pytest.raises(StoreError) as raised:
        Store(f"sqlite:///{db_path}")

    assert str(db_path) in str(raised.value)
    assert db_path.read_bytes() == garbage


def test_env_var_url_is_used_when_no_url_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_path = tmp_path / "from-env.db"
    monkeypatch.setenv(ENV_URL, f"sqlite:///{env_path}")

    store = Store()
    store.create_run(make_run("run-a"))

    assert store.url == f"sqlite:///{env_path}"
    assert table_count(Store(f"sqlite:///{env_path}"), "runs") == 1


def test_explicit_url_wins_over_env_var(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_URL, f"sqlite:///{tmp_path / 'from-env.db'}")

    store = Store(f"sqlite:///{db_path}")

    assert store.url == f"sqlite:///{db_path}"
    assert not (tmp_path / "from-env.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "not a database url",
        "nosuchdialect://localhost/db",
        "sqlite:////nonexistent-llamaburn-dir/sub/h.db",
    ],
)
def test_unusable_url_is_a_store_error(url: str) -> None:
    with pytest.raises(StoreError, match="database"):
        Store(url)


def test_url_whose_driver_is_not_installed_is_a_store_error() -> None:
    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("the mysqlclient driver is installed here")

    with pytest.raises(StoreError, match="mysql"):
        Store("mysql://user@localhost/llamaburn")


def test_two_stores_on_one_file_share_data(store_url: str) -> None:
    app, cli = Store(store_url), Store(store_url)

    cli.create_run(make_run("from-cli"))
    app.create_run(make_run("from-app", minutes=1))

    assert [run.id for run in app.list_runs()] == ["from-app", "from-cli"]
    assert [run.id for run in cli.list_runs()] == ["from-app", "from-cli"]


def test_two_writers_interleaving_iterations_lose_nothing(store_url: str) -> None:
    writers = [Store(store_url), Store(store_url)]
    writers[0].create_run(make_run("shared"))
    start = threading.Barrier(len(writers))
    failures: list[BaseException] = []

    def write(store: Store, name: str) -> None:
        try:
            start.wait()
            for index in range(1, 51):
                store.add_iteration(make_iteration("shared", index, output=name))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=(store, name)) for store, name in zip(writers, ["app", "cli"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    stored = Store(store_url).iterations("shared")
    assert len(stored) == 100
    for name in ("app", "cli"):
        assert sorted(it.index for it in stored if it.output == name) == list(range(1, 51))
