"""Issue 17's done-when, on the CLI and the API: a sweep over 2 models x concurrency 1,2,4 x depth 256,1024
runs, lands in history as cells, and ends in the curves and the table. (The UI's: tests/ui/test_sweep_done_ui.py
and tests/test_sweep_browser.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.api import api_app, in_process

OTHER = "qwen2.5:0.5b"
GRID = [(model, depth, c) for model in (DEFAULT_MODEL, OTHER) for depth in (256, 1024) for c in (1, 2, 4)]


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    """llama-server, so each depth is counted by its ``/tokenize``."""
    # Paced so that each token comes in a read of its own: chunks that arrive together share one arrival and
    # have no TPS between them (docs/metrics.md, "Clock"), and 1 ms apart they sometimes did.
    script = Script(tokens=5, ttft_s=0.01, tokens_per_s=200, llama_cpp=True)
    with FakeServer(script, models=(DEFAULT_MODEL, OTHER)) as server:
        yield server


def assert_in_history(sweep_id: str) -> None:
    """Every cell's streams in history, once each, tagged with the cell's coordinates."""
    runs = Store().sweep_runs(sweep_id)
    cells: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        assert run.status == "completed"
        cells.setdefault(run.config["sweep"]["cell"], []).append(run.config["sweep"])
    assert sorted(cells) == list(range(12))
    for index, (model, depth, concurrency) in enumerate(GRID):
        tags = cells[index]
        expected = {"model": model, "depth": depth, "concurrency": concurrency}
        assert [t["coordinates"] for t in tags] == [expected] * len(tags)
        assert sorted(t["stream"] for t in tags) == list(range(concurrency))


def assert_curves(document: dict[str, Any]) -> None:
    """Throughput against concurrency (one line per model and depth, each knee checked), prefill and decode
    against depth, a heatmap and the best cells."""
    charts = {(chart["x"], chart["metric"]): chart for chart in document["curves"]}
    lines = [f"{model} · depth={depth}" for model in (DEFAULT_MODEL, OTHER) for depth in (256, 1024)]
    tps = charts["concurrency", "aggregate_tps"]
    assert [s["name"] for s in tps["series"]] == lines
    assert all([x for x, _ in s["data"]] == [1, 2, 4] for s in tps["series"])
    assert set(document["knees"]) == set(lines)
    for metric in ("prompt_tps_mean", "stream_tps_mean"):
        assert all([x for x, _ in s["data"]] == [256, 1024] for s in charts["depth", metric]["series"])
    heatmap = next(h for h in document["heatmaps"] if h["metric"] == "aggregate_tps")
    assert heatmap["columns"] == [1, 2, 4] and heatmap["rows"] == lines and len(heatmap["values"]) == 12
    best = {entry["metric"]: entry for entry in document["best"]}
    top = max(range(12), key=lambda i: document["cells"][i]["aggregate"]["aggregate_tps"])
    assert best["aggregate_tps"]["index"] == top
    assert best["aggregate_tps"]["name"] == " · ".join(f"{k}={v}" if k != "model" else str(v)
                                                       for k, v in document["cells"][top]["coordinates"].items())


def test_from_the_cli(capsys: pytest.CaptureFixture[str], fake: FakeServer) -> None:
    argv = ["sweep", "--backend", "openai", "--url", fake.url, "--iterations", "1", "--warmup", "0", "--quiet",
            "--models", f"{DEFAULT_MODEL},{OTHER}", "--concurrency", "1,2,4", "--depth", "256,1024"]
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(c["coordinates"]["model"], c["coordinates"]["depth"], c["coordinates"]["concurrency"])
            for c in document["cells"]] == GRID
    assert {(c["aggregate"]["depth_source"], c["aggregate"]["depth_tokens"]) for c in document["cells"]} == {
        ("tokenizer", 256), ("tokenizer", 1024)}
    assert_in_history(document["sweep_id"])
    assert_curves(document)

    Store().clear()
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 12 of 12 points")
    assert out[1].split()[:5] == ["#", "model", "depth", "concurrency", "status"]
    rows = [line.split()[:5] for line in out[3:15]]
    assert rows == [[str(i + 1), m, str(d), str(c), "completed"] for i, (m, d, c) in enumerate(GRID)]
    assert sum(line.startswith("knee of ") for line in out) == 4
    assert any(line.startswith("best Aggregate throughput: #") for line in out)


async def test_from_the_api(fake: FakeServer) -> None:
    service = RunService(load_registry(), Store())
    run = {"type": "text", "backend": "openai", "url": fake.url, "iterations": 1, "warmup": 0}
    async with in_process(api_app(service), service) as client:
        started = await client.post("/api/sweep", json={"run": run, "models": [DEFAULT_MODEL, OTHER],
                                                        "concurrency": [1, 2, 4], "depth": [256, 1024]})
        assert started.status_code == 202 and started.json()["points"] == 12
        stream = await client.get(f"/api/sweep/{started.json()['sweep_id']}/stream", timeout=httpx.Timeout(60))
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    *cells, end = events
    assert [c["type"] for c in cells] == ["cell"] * 12 and end["type"] == "sweep_end" and end["status"] == "completed"
    assert [(c["coordinates"]["model"], c["coordinates"]["depth"], c["coordinates"]["concurrency"])
            for c in cells] == GRID
    assert_in_history(end["sweep_id"])
    assert_curves({**end, "cells": cells})
