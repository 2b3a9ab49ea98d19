"""The history's schema on SQLite and PostgreSQL: Alembic at start-up, the pre-Alembic release adopted with
every row kept, a newer database refused in one line, and many processes opening a fresh database at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from llamaburn.errors import StoreError
from llamaburn.storage import schema
from llamaburn.storage.store import Store

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "history-v2.sqlite"  # made by commit cfb7744's Store: schema version 2, no Alembic
TABLES = ["runs", "iterations", "model_info", "schema_version"]


def rows(table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(FIXTURE) as connection:
        return connection.execute(f"SELECT * FROM {table}").fetchall()


def legacy_database(url: str, tmp_path: Path) -> str:
    """The v2 fixture on the URL's backend: the file itself for SQLite; its DDL and rows for PostgreSQL."""
    if url.startswith("sqlite"):
        copy = tmp_path / "legacy.db"
        copy.write_bytes(FIXTURE.read_bytes())
        return f"sqlite:///{copy}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql((DATA / "history-v2.sql").read_text().split("\nINSERT")[0])
        for table in TABLES:
            with sqlite3.connect(FIXTURE) as source:
                cursor = source.execute(f"SELECT * FROM {table}")
                names = [d[0] for d in cursor.description]
                values = cursor.fetchall()
            quoted = ", ".join(f'"{n}"' for n in names)
            marks = ", ".join(f":p{i}" for i in range(len(names)))
            for row in values:
                params = {f"p{i}": _pg_value(names[i], v) for i, v in enumerate(row)}
                connection.execute(text(f"INSERT INTO {table} ({quoted}) VALUES ({marks})"), params)
    engine.dispose()
    return url


def _pg_value(name: str, value: object) -> object:
    return bool(value) if name == "warmup" else value


def test_fresh_database_is_created_at_head(store_url: str) -> None:
    store = Store(store_url)

    assert store.schema_version() == schema.head()
    assert store.count_runs() == 0


def test_release_before_alembic_is_adopted_keeping_every_run_and_iteration(store_url: str, tmp_path: Path) -> None:
    url = legacy_database(store_url, tmp_path)

    store = Store(url)

    assert store.schema_version() == schema.head()
    runs = store.list_runs(limit=100)
    assert sorted(run.id for run in runs) == sorted(str(row[0]) for row in rows("runs"))
    assert sum(len(store.iterations(run.id)) for run in runs) == len(rows("iterations"))
    completed = next(run for run in runs if run.system["hostname"] == "desk-b")
    assert completed.model_info["quantization"] == "Q4_K_M"
    assert [it.output for it in store.iterations(completed.id)] == ["Rayleigh scattering 20"] + [
        f"Rayleigh scattering 2{i}" for i in range(2)
    ]
    assert Store(url).count_runs() == len(runs)  # reopening adopts nothing twice


def test_release_with_a_newer_schema_version_is_refused_in_one_line(store_url: str, tmp_path: Path) -> None:
    url = legacy_database(store_url, tmp_path)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO schema_version (version) VALUES (3)"))
    engine.dispose()

    with pytest.raises(StoreError, match="upgrade LlamaBurn") as raised:
        Store(url)

    assert "schema version 3, newer than this LlamaBurn knows (2)" in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1


def test_unknown_alembic_revision_is_refused_in_one_line(store_url: str) -> None:
    Store(store_url)
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    engine.dispose()

    with pytest.raises(StoreError, match="schema revision ffff9999, newer than this LlamaBurn") as raised:
        Store(store_url)

    assert len(str(raised.value).splitlines()) == 1


OPEN = "import sys; from llamaburn.storage.store import Store; Store(sys.argv[1]); print('ok')"


@pytest.mark.parametrize("start", ["fresh", "legacy"])
def test_many_processes_opening_at_once_never_race(store_url: str, tmp_path: Path, start: str) -> None:
    url = store_url if start == "fresh" else legacy_database(store_url, tmp_path)
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    results = [process.communicate(timeout=120) for process in processes]

    assert [(process.returncode, out.strip()) for process, (out, _) in zip(processes, results, strict=True)] == [
        (0, "ok")
    ] * 8, [err for _, err in results]
    store = Store(url)
    assert store.schema_version() == schema.head()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
