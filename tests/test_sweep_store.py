"""A sweep's runs carry its id in an indexed column (revision 0005), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from llamaburn.storage import schema
from llamaburn.storage.store import Store
from tests.test_store import make_run

SWEEP = {"sweep": {"id": "sweep-1", "cell": 0, "coordinates": {"concurrency": 2}, "stream": 1, "streams": 2}}


def test_runs_of_a_sweep_are_one_query_away(store_url: str) -> None:
    store = Store(store_url)
    store.create_run(make_run("a", 0, config=SWEEP))
    store.create_run(make_run("b", 1))
    store.import_runs([make_run("c", 2, config=SWEEP).model_dump(mode="json") | {"sweep_id": None}])
    assert [run.id for run in store.sweep_runs("sweep-1")] == ["a", "c"]
    assert store.get_run("b").sweep_id is None and store.sweep_runs("nope") == []


def test_upgrade_from_0004_copies_each_runs_sweep_from_its_config(store_url: str) -> None:
    Store(store_url).create_run(make_run("a", 0, config=SWEEP))
    engine = create_engine(store_url)
    with engine.connect() as connection:
        command.downgrade(schema._config(connection), "0004")
        connection.commit()
    assert schema.revision(engine) == "0004"
    store = Store(store_url)
    assert store.schema_version() == "0005" and [run.id for run in store.sweep_runs("sweep-1")] == ["a"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT sweep_id FROM runs")).scalar() == "sweep-1"
    engine.dispose()
