"""Fleet views: runs carry their host, and history filters and groups by it in the store, the CLI, the API
and the UI; a comparison of runs from several hosts names each run's host."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nicegui.testing import User

from llamaburn.api import mount
from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.server import register_pages
from llamaburn.service.compare import compare, metric_set
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing.page import marked
from tests.test_schema import legacy_database, rows
from tests.test_store import make_run

SUMMARY = {"tps": {"mean": 40.0, "min": 39.0, "max": 41.0}}


def fleet(store: Store) -> None:
    """Three runs of one model: two on lab-1, one on lab-2, and one older run that recorded no host."""
    for number, host in enumerate(["lab-1", "lab-2", "lab-1"]):
        store.create_run(
            make_run(f"{number:08x}-0000-4000-8000-000000000000", minutes=number, host=host, status="completed",
                     summary=SUMMARY, system={"hostname": host})
        )
    store.create_run(make_run("ffffffff-0000-4000-8000-000000000000", minutes=-10, status="completed"))


def test_history_filters_and_groups_by_host(store_url: str) -> None:
    store = Store(store_url)
    fleet(store)

    assert [run.host for run in store.list_runs(host="lab-1")] == ["lab-1", "lab-1"]
    assert store.count_runs(host="lab-2") == 1 and store.count_runs() == 4
    assert [(summary.host, summary.runs) for summary in store.hosts()] == [("lab-1", 2), ("lab-2", 1), (None, 1)]


def test_upgrade_copies_each_runs_host_from_its_system_snapshot(store_url: str, tmp_path: Path) -> None:
    store = Store(legacy_database(store_url, tmp_path))

    runs = store.list_runs(limit=100)
    assert len(runs) == len(rows("runs"))
    assert all(run.host == run.system.get("hostname") for run in runs)
    assert store.list_runs(host="desk-b") and all(run.host == "desk-b" for run in store.list_runs(host="desk-b"))


def test_import_of_an_export_without_host_takes_it_from_the_system_snapshot() -> None:
    store = Store()
    exported = {**make_run("7b4d2e8f-0000-4000-8000-000000000002").model_dump(mode="json"), "iterations": []}
    del exported["host"]  # an export made before runs had a host column
    exported["system"] = {"hostname": "laptop"}

    store.import_runs([exported])

    assert store.get_run("7b4d2e8f").host == "laptop"


def test_comparison_labels_name_the_host_only_when_hosts_differ() -> None:
    store = Store()
    fleet(store)
    modalities = load_registry().modalities
    runs = [store.get_run(prefix) for prefix in ("00000000", "00000001")]
    same = [store.get_run(prefix) for prefix in ("00000000", "00000002")]

    labels = [column.label for column in compare(runs, metric_set(modalities, runs)).runs]
    same_labels = [column.label for column in compare(same, metric_set(modalities, same)).runs]

    assert labels == ["llama3.2:1b @ lab-1 (00000000)", "llama3.2:1b @ lab-2 (00000001)"]
    assert same_labels == ["llama3.2:1b (00000000)", "llama3.2:1b (00000002)"]


def test_cli_history_by_host_and_compare_across_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    fleet(Store())

    assert main(["history", "--host", "lab-2", "--json"]) == 0
    assert [run["host"] for run in json.loads(capsys.readouterr().out)] == ["lab-2"]
    assert main(["history"]) == 0
    header, *lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert "host" in header.split() and sum("lab-1" in line for line in lines) == 2
    assert main(["history", "--by-host", "--json"]) == 0
    assert [(h["host"], h["runs"]) for h in json.loads(capsys.readouterr().out)] == [
        ("lab-1", 2), ("lab-2", 1), (None, 1)
    ]
    assert main(["compare", "00000000", "00000001"]) == 0
    assert "llama3.2:1b @ lab-2 (00000001)" in capsys.readouterr().out


async def test_api_history_host_parameter_hosts_and_compare_labels() -> None:
    store = Store()
    fleet(store)
    service = RunService(load_registry(), store)
    app = FastAPI()
    mount(app, service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = (await client.get("/api/history", params={"host": "lab-1"})).json()
        compared = (await client.get("/api/compare", params={"ids": "00000000,00000001"})).json()
        hosts = (await client.get("/api/hosts")).json()
    await service.aclose()

    assert page["total"] == 2 and {run["host"] for run in page["runs"]} == {"lab-1"}
    assert [(entry["host"], entry["runs"]) for entry in hosts] == [("lab-1", 2), ("lab-2", 1), (None, 1)]
    assert hosts[0]["latest"].startswith(str(store.list_runs(host="lab-1")[0].created_at.date()))
    assert [run["label"] for run in compared["runs"]] == ["llama3.2:1b @ lab-1 (00000000)",
                                                          "llama3.2:1b @ lab-2 (00000001)"]


async def test_ui_history_shows_the_host_column_and_filters_by_host(user: User) -> None:
    store = Store()
    fleet(store)
    service = RunService(load_registry(), store)
    register_pages(service)
    await user.open("/")
    table = marked(user, "history-table")
    assert sorted(row["host"] for row in table.rows) == ["-", "lab-1", "lab-1", "lab-2"]
    host_filter = marked(user, "history-host")
    assert list(host_filter.options) == ["", "lab-1", "lab-2"]

    host_filter.set_value("lab-2")

    assert [row["host"] for row in marked(user, "history-table").rows] == ["lab-2"]
    await service.aclose()
