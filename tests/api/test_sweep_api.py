"""``POST /api/sweep`` and its SSE stream: a grid of runs started over the API, bad axes a 422 with loc."""

from __future__ import annotations

import json

import httpx
import pytest

from llamaburn.service.runs import RunService
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.moments import until


def body(url: str, **axes: object) -> dict[str, object]:
    run = {"type": "text", "backend": "ollama", "url": url, "model_id": DEFAULT_MODEL, "iterations": 1, "warmup": 0}
    return {"run": run, **axes}


def events(text: str) -> list[dict[str, object]]:
    return [json.loads(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_sweep_streams_a_cell_per_point_then_its_curves(
    client: httpx.AsyncClient, service: RunService, fake: FakeServer
) -> None:
    started = await client.post("/api/sweep", json=body(fake.url, settings={"max_tokens": [2, 4]},
                                                         concurrency=[1, 2], slo={"ttft_ms": 1000}))
    assert started.status_code == 202 and started.json()["points"] == 4
    sweep_id = started.json()["sweep_id"]
    stream = await client.get(f"/api/sweep/{sweep_id}/stream")
    assert stream.headers["content-type"].startswith("text/event-stream")
    *cells, end = events(stream.text)
    assert [c["type"] for c in cells] == ["cell"] * 4 and end["type"] == "sweep_end"
    assert [c["aggregate"]["output_tokens"] for c in cells] == [2, 4, 4, 8]  # type: ignore[index]
    assert end["status"] == "completed" and end["cells"] == 4
    tps = next(chart for chart in end["curves"] if chart["metric"] == "aggregate_tps")  # type: ignore[attr-defined]
    assert [(s["name"], [x for x, _ in s["data"]]) for s in tps["series"]] == [
        (f"{DEFAULT_MODEL} · max_tokens=2", [1, 2]), (f"{DEFAULT_MODEL} · max_tokens=4", [1, 2])]
    assert len(service.store.sweep_runs(sweep_id)) == 6
    replay = await client.get(f"/api/sweep/{sweep_id}/stream", headers={"Last-Event-ID": "3"})
    assert [e["type"] for e in events(replay.text)] == ["sweep_end"]


@pytest.mark.parametrize(
    ("axes", "loc"),
    [
        ({"settings": {"max_tokens": [2, -1]}}, ["body", "settings", "max_tokens", 1]),
        ({"concurrency": [0]}, ["body", "concurrency"]),
        ({"run_extra": {"iterations": 0}}, ["body", "run", "iterations"]),
    ],
)
async def test_bad_axes_are_a_422_at_their_body_path(
    client: httpx.AsyncClient, fake: FakeServer, axes: dict[str, object], loc: list[object]
) -> None:
    sent = body(fake.url, **{k: v for k, v in axes.items() if k != "run_extra"})
    sent["run"] = {**sent["run"], **axes.get("run_extra", {})}  # type: ignore[dict-item]
    answer = await client.post("/api/sweep", json=sent)
    assert answer.status_code == 422 and [d["loc"] for d in answer.json()["detail"]] == [loc]
    assert [r for r in fake.requests if r.path == "/api/chat"] == []


async def test_an_unknown_sweep_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/sweep/nope/stream")).status_code == 404


async def test_a_cancelled_sweep_keeps_its_finished_points_and_starts_no_more(
    client: httpx.AsyncClient, service: RunService
) -> None:
    with FakeServer(Script(tokens=20, tokens_per_s=50)) as slow:  # 0.38 s per request
        started = (await client.post("/api/sweep", json=body(slow.url, concurrency=[1, 2, 4]))).json()
        live = service.sweeps.sweeps[started["sweep_id"]]
        await until(lambda: len(live.sweep.cells_done) == 1)
        cancelled = await client.post(f"/api/sweep/{live.id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["cells"] == 1
        *_, end = events((await client.get(f"/api/sweep/{live.id}/stream")).text)
    # the cancel lands while point 2 is prepared (nothing of it is sent) or runs (it ends cancelled)
    chats = len([r for r in slow.requests if r.path == "/api/chat"])
    assert end["status"] == "cancelled" and end["cells"] <= 2 and chats <= 3, (end, chats)  # point 3 never starts
    assert (await client.post(f"/api/sweep/{live.id}/cancel")).status_code == 409
