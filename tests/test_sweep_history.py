"""History grouped by sweep: the store's one grouped query (SQLite and PostgreSQL), each sweep's status
against the runs its grid makes, and the faces that list sweeps and filter history by one
(``history --by-sweep`` and ``--sweep``, ``/api/sweeps`` and ``/api/history?sweep=``); a completed sweep
resumed runs nothing and ends with its table again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from llamaburn.api import mount
from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweep_history import summaries
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.cli import cli
from tests.test_store import make_run

OTHER = "qwen2.5:0.5b"
REQUEST = SweepRequest(base=RunRequest(backend="ollama", model=DEFAULT_MODEL), models=[DEFAULT_MODEL, OTHER],
                       concurrency=[1, 2]).model_dump(mode="json")
"""Two models x concurrency 1, 2: four points, six runs."""


def sweep_of(store: Store, sweep_id: str, start: int, statuses: list[str], request: object = REQUEST) -> None:
    """A sweep's runs, one a minute from minute ``start``, with these statuses; ``request`` in each config."""
    for offset, status in enumerate(statuses):
        sweep = {"id": sweep_id, "cell": offset, "stream": 1, "streams": 1}
        store.create_run(make_run(f"{sweep_id}-{offset}", start + offset, status=status,
                                  config={"sweep": sweep if request is None else {**sweep, "request": request}}))


def test_history_groups_runs_by_sweep_newest_first_with_each_status(store_url: str) -> None:
    store = Store(store_url)
    sweep_of(store, "s-done", 0, ["completed"] * 6)
    sweep_of(store, "s-part", 10, ["completed"] * 5 + ["failed"])
    sweep_of(store, "s-live", 20, ["completed", "running"])
    sweep_of(store, "s-old", 30, ["completed"], request=None)  # recorded before sweeps kept their request
    store.create_run(make_run("not-a-sweep", 40, status="completed"))

    entries = store.sweeps()
    assert [(e.sweep_id, e.runs, e.completed, e.running) for e in entries] == [
        ("s-old", 1, 1, 0), ("s-live", 2, 1, 1), ("s-part", 6, 5, 0), ("s-done", 6, 6, 0)]
    assert (entries[2].latest - entries[2].started).total_seconds() == 5 * 60
    assert [e.sweep_id for e in store.sweeps(limit=2)] == ["s-old", "s-live"]

    found = {s.sweep_id: s for s in summaries(store, load_registry())}
    assert [(s.status, s.points, s.expected) for s in (found[i] for i in ("s-done", "s-part", "s-live", "s-old"))] \
        == [("completed", 4, 6), ("partial", 4, 6), ("running", 4, 6), ("completed", None, None)]
    assert found["s-done"].models == [DEFAULT_MODEL, OTHER] and found["s-old"].models == []

    assert {run.id for run in store.list_runs(sweep="s-part")} == {f"s-part-{i}" for i in range(6)}
    assert store.count_runs(sweep="s-live") == 2 and store.count_runs(host="nowhere", sweep="s-live") == 0
    assert store.count_runs() == 16


def test_a_sweep_too_short_for_its_grid_is_partial_even_when_every_run_completed() -> None:
    store = Store()
    sweep_of(store, "s-cut", 0, ["completed"] * 3)  # a kill before its last point started

    [summary] = summaries(store, load_registry())
    assert (summary.status, summary.completed, summary.expected) == ("partial", 3, 6)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=5, tokens_per_s=200), models=(DEFAULT_MODEL, OTHER)) as server:
        yield server


async def api_views(sweep_id: str) -> tuple[Any, Any, Any]:
    """``/api/sweeps``, a page of the sweep's runs and the runs of a sweep history does not have."""
    service = RunService(load_registry(), Store())
    app = FastAPI()
    mount(app, service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        sweeps = (await client.get("/api/sweeps")).json()
        page = (await client.get("/api/history", params={"sweep": sweep_id, "limit": 4})).json()
        none = (await client.get("/api/history", params={"sweep": "no-such-sweep"})).json()
    await service.aclose()
    return sweeps, page, none


def test_every_face_lists_a_real_sweep_and_its_runs(capsys: pytest.CaptureFixture[str], fake: FakeServer) -> None:
    code, document, err = cli(capsys, "sweep", "--backend", "ollama", "--url", fake.url, "--iterations", "1",
                              "--warmup", "0", "--quiet", "--models", f"{DEFAULT_MODEL},{OTHER}",
                              "--concurrency", "1,2", "--json")
    assert code == 0 and document is not None, err
    sweep_id = document["sweep_id"]

    code, listed, err = cli(capsys, "history", "--by-sweep", "--json")
    assert code == 0 and listed is not None, err
    assert [(s["sweep_id"], s["points"], s["expected"], s["runs"], s["completed"], s["status"]) for s in listed] \
        == [(sweep_id, 4, 6, 6, 6, "completed")]
    assert listed[0]["models"] == [DEFAULT_MODEL, OTHER]
    code, runs, err = cli(capsys, "history", "--sweep", sweep_id, "--json")
    assert code == 0 and runs is not None and len(runs) == 6 and {r["sweep_id"] for r in runs} == {sweep_id}

    chats = len([r for r in fake.requests if r.path == "/api/chat"])
    code, again, err = cli(capsys, "sweep", "--resume", sweep_id, "--json")
    assert code == 0 and again is not None, err
    assert [c["index"] for c in again["cells"]] == [0, 1, 2, 3] and again["cells"] == document["cells"]
    assert len([r for r in fake.requests if r.path == "/api/chat"]) == chats  # nothing measured again

    sweeps, page, none = asyncio.run(api_views(sweep_id))
    assert [(s["sweep_id"], s["status"], s["expected"]) for s in sweeps] == [(sweep_id, "completed", 6)]
    assert page["total"] == 6 and len(page["runs"]) == 4 and {r["sweep_id"] for r in page["runs"]} == {sweep_id}
    assert none["total"] == 0 and none["runs"] == []


def test_the_by_sweep_table_names_each_sweep_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    store = Store()
    sweep_of(store, "0f3c9a1e-0000-4000-8000-000000000001", 0, ["completed"] * 5 + ["failed"])

    assert main(["history", "--by-sweep"]) == 0
    header, rule, line = capsys.readouterr().out.splitlines()
    assert header.split() == ["sweep", "started", "(UTC)", "models", "points", "runs", "completed", "status"]
    assert set(rule) == {"-", " "}
    assert line.split()[0] == "0f3c9a1e-0000-4000-8000-000000000001" and line.split()[-3:] == ["of", "6", "partial"]
