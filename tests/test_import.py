"""Moving history: ``Store.import_runs`` takes what ``llamaburn export --format json`` wrote, idempotent by run id."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from llamaburn.cli import main
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


def test_llamaburn_import_pushes_an_export_twice_without_duplicates(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI round trip: ``export --format json`` on one database, ``import`` into another (the test's own)."""
    dump = tmp_path / "runs.json"
    dump.write_text(json.dumps(exported(laptop(tmp_path_factory))))
    assert main(["import", str(dump)]) == 0
    assert capsys.readouterr().out.strip() == "imported 2 runs, skipped 0 already here"
    assert main(["import", str(dump)]) == 0
    assert capsys.readouterr().out.strip() == "imported 0 runs, skipped 2 already here"
    assert sorted(run.id for run in Store().list_runs()) == ["run-a", "run-b"]


@pytest.mark.parametrize(("content", "problem"), [("{nope", "is not JSON"), ('{"id": 1}', "expected a list of runs")])
def test_llamaburn_import_refuses_what_is_not_an_export_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    dump = tmp_path / "runs.json"
    dump.write_text(content)
    assert main(["import", str(dump)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("llamaburn: error: ") and problem in line
    assert Store().list_runs() == []
