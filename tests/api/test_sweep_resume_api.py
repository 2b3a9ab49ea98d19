"""``POST /api/sweep/{id}/resume``: a cancelled sweep runs only its missing points, under its own id."""

from __future__ import annotations

import httpx

from llamaburn.service.runs import RunService
from llamaburn.testing import FakeServer, Script
from tests.api.test_sweep_api import body, events
from tests.harness.moments import until


async def test_a_cancelled_sweep_resumes_with_only_its_missing_points(
    client: httpx.AsyncClient, service: RunService
) -> None:
    with FakeServer(Script(tokens=20, tokens_per_s=50)) as slow:  # 0.38 s per request
        started = (await client.post("/api/sweep", json=body(slow.url, concurrency=[1, 2, 3]))).json()
        sweep_id = started["sweep_id"]
        live = service.sweeps.sweeps[sweep_id]
        await until(lambda: len(live.sweep.cells_done) == 1)
        assert (await client.post(f"/api/sweep/{sweep_id}/resume")).status_code == 409  # still in progress
        await client.post(f"/api/sweep/{sweep_id}/cancel")
        await until(live.done.is_set)
        kept = [cell.index for cell in live.sweep.cells_done if cell.status == "completed"]
        chats = len([r for r in slow.requests if r.path == "/api/chat"])

        resumed = await client.post(f"/api/sweep/{sweep_id}/resume")
        assert resumed.status_code == 202
        assert resumed.json() == {"sweep_id": sweep_id, "points": 3, "missing": 3 - len(kept)}
        *cells, end = events((await client.get(f"/api/sweep/{sweep_id}/stream")).text)
        sent = len([r for r in slow.requests if r.path == "/api/chat"]) - chats
    assert [c["index"] for c in cells] == [i for i in range(3) if i not in kept]
    assert end["status"] == "completed" and end["cells"] == 3
    assert sent == sum(c for i, c in enumerate((1, 2, 3)) if i not in kept)
    runs = service.store.sweep_runs(sweep_id)
    assert sorted(r.config["sweep"]["cell"] for r in runs) == [0, 1, 1, 2, 2, 2]  # each cell once
    assert {r.status for r in runs} == {"completed"}


async def test_resuming_a_sweep_history_does_not_have_is_a_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/sweep/nope/resume")
    assert answer.status_code == 404 and "no sweep 'nope' in history" in answer.json()["detail"]
