"""Moving history: ``Store.import_runs`` takes what ``llamaburn export --format json`` wrote, idempotent by run id."""

from __future__ import annotations

import io
import json

import pytest

from llamaburn.errors import ConfigError
from llamaburn.storage.export import write_json
from llamaburn.storage.store import Store
from tests.test_store import make_iteration, make_run


def exported(store: Store) -> list[dict[str, object]]:
    out = io.StringIO()
    write_json(store, out)
    return list(json.loads(out.getvalue()))


def laptop(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('laptop') / 'h.db'}")
    store.create_run(make_run("run-a", system={"hostname": "laptop", "pid": 1}, model_info={"quantization": "Q4"}))
    store.add_iteration(make_iteration("run-a", 0, warmup=True, output="warm", metrics={"ttft_s": 0.2}))
    store.add_iteration(make_iteration("run-a", 1, output="one", metrics={"ttft_s": 0.1}))
    store.finish_run("run-a", "completed", {"ttft_s": {"mean": 0.1}}, None)
    store.create_run(make_run("run-b", minutes=5, status="failed", error="boom"))
    return store


def test_import_adds_every_run_with_its_iterations_then_skips_them(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = exported(laptop(tmp_path_factory))
    team = Store(store_url)

    assert team.import_runs(data) == (2, 0)
    assert team.import_runs(data) == (0, 2)  # pushed twice: no duplicates

    assert team.count_runs() == 2
    assert exported(team) == data  # the same export, round trip
    run = team.get_run("run-a")
    assert run.system["hostname"] == "laptop" and run.model_info == {"quantization": "Q4"}
    assert [(it.warmup, it.output) for it in team.iterations("run-a")] == [(True, "warm"), (False, "one")]


def test_import_skips_only_the_runs_already_there(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = exported(laptop(tmp_path_factory))
    team = Store(store_url)
    team.create_run(make_run("run-b", status="completed"))

    assert team.import_runs(data) == (1, 1)
    assert team.get_run("run-b").status == "completed"  # the team's copy is kept as it was


@pytest.mark.parametrize(
    "data", [[{"id": "x"}], ["not a run"], [{"id": "x", "created_at": "soon"}]], ids=["missing", "string", "bad-date"]
)
def test_import_of_something_else_is_a_config_error_and_adds_nothing(
    data: list[object], tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = laptop(tmp_path_factory)

    with pytest.raises(ConfigError, match="not a LlamaBurn JSON export"):
        store.import_runs(data)  # type: ignore[arg-type]

    assert store.count_runs() == 2
