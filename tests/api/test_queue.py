"""Cancel, one run per backend, and the queue: a cancel mid-run keeps what was measured, a busy backend
answers 409, and a queued run starts after the one ahead of it (or is cancelled while it waits)."""

from __future__ import annotations

import json

import httpx
from httpx_sse import aconnect_sse

from llamaburn.testing import FakeServer, Script
from tests.api.bodies import run_body
from tests.harness.api import SseEvent, follow, start, stored, types

# Cancel, one run per backend, queue


async def test_cancel_mid_run_ends_the_stream_and_keeps_completed_iterations(
    live: httpx.AsyncClient, fake: FakeServer
) -> None:
    fake.script = Script(tokens=5, tokens_per_s=50)
    run_id = await start(live, run_body(fake, iterations=100, warmup=0))
    events: list[SseEvent] = []
    async with aconnect_sse(live, "GET", f"/api/benchmark/{run_id}/stream") as source:
        async for sse in source.aiter_sse():
            events.append((sse.event, json.loads(sse.data)))
            if sse.event == "iteration_complete" and types(events).count("iteration_complete") == 1:
                assert (await live.delete(f"/api/history/{run_id}")).status_code == 409
                assert (await live.delete("/api/history")).json() == {"deleted": 0}
                response = await live.post(f"/api/benchmark/{run_id}/cancel")
                assert response.status_code == 202
                assert response.json() == {"run_id": run_id, "status": "running"}
    assert types(events)[-1] == "cancelled"
    record = await stored(live, run_id)
    assert record["status"] == "cancelled"
    assert 1 <= len(record["iterations"]) < 100
    assert record["summary"]["tps"]["mean"] > 0
    again = await live.post(f"/api/benchmark/{run_id}/cancel")
    assert again.status_code == 409 and "not in progress (status: cancelled)" in again.json()["detail"]


async def test_a_busy_backend_answers_409_and_a_queued_run_starts_after_it(
    live: httpx.AsyncClient, fake: FakeServer
) -> None:
    fake.script = Script(tokens=5, tokens_per_s=100)  # warm: the prompts reach the server as sent, no nonce line
    first = await start(live, run_body(fake, cache_mode="warm", prompt="first", iterations=1000, warmup=0))
    busy = await live.post("/api/benchmark", json=run_body(fake, cache_mode="warm", prompt="second"))
    assert busy.status_code == 409
    assert busy.json()["run_id"] == first and first in busy.json()["detail"]

    queued_body = run_body(fake, cache_mode="warm", prompt="second", warmup=0, queue=True)
    queued = await live.post("/api/benchmark", json=queued_body)
    assert queued.status_code == 202 and queued.json()["queued"] is True
    second = queued.json()["run_id"]
    jumped = await live.post("/api/benchmark", json=run_body(fake, cache_mode="warm", prompt="third"))
    assert jumped.status_code == 409  # no jumping the line
    assert (await live.post(f"/api/benchmark/{first}/cancel")).status_code == 202

    events = await follow(live, second)
    assert types(events)[0] == "iteration_start" and types(events)[-1] == "complete"
    assert (await stored(live, first))["status"] == "cancelled"
    record = await stored(live, second)
    assert record["status"] == "completed" and record["model_info"]["family"] == "llama"
    assert record["config"]["inputs"]["prompts"] == ["second"]
    prompts = [r.body["messages"][0]["content"] for r in fake.requests if r.path == "/api/chat"]
    assert prompts.count("second") == 2 and "third" not in prompts
    assert prompts[prompts.index("second") :] == ["second", "second"]  # nothing of the first run after it began


async def test_a_queued_run_can_be_cancelled_while_it_waits(client: httpx.AsyncClient, fake: FakeServer) -> None:
    fake.script = Script(tokens=5, tokens_per_s=100)
    first = await start(client, run_body(fake, iterations=1000, warmup=0))
    waiting = await start(client, run_body(fake, queue=True))
    assert (await client.post(f"/api/benchmark/{waiting}/cancel")).status_code == 202
    assert types(await follow(client, waiting)) == ["cancelled"]
    record = await stored(client, waiting)
    assert record["status"] == "cancelled" and record["iterations"] == []
    assert (await client.get(f"/api/history/{first}")).json()["status"] == "running"
    await client.post(f"/api/benchmark/{first}/cancel")
    assert types(await follow(client, first))[-1] == "cancelled"


async def test_queue_on_a_free_backend_starts_at_once(client: httpx.AsyncClient, fake: FakeServer) -> None:
    response = await client.post("/api/benchmark", json=run_body(fake, queue=True))
    assert response.status_code == 202 and response.json()["queued"] is False
    events = await follow(client, response.json()["run_id"])
    assert types(events)[-1] == "complete"
