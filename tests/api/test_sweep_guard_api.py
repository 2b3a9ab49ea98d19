"""The server check over the API: a too-deep depth ends the sweep in one error event with nothing sent or
stored, and a point past llama-server's slots carries the queueing warning in its ``cell`` event."""

from __future__ import annotations

import httpx

from llamaburn.service.runs import RunService
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.api.test_sweep_api import events


def body(url: str, **axes: object) -> dict[str, object]:
    run = {"type": "text", "backend": "openai", "url": url, "model_id": DEFAULT_MODEL, "iterations": 1, "warmup": 0}
    return {"run": run, **axes}


async def test_a_depth_beyond_the_context_is_one_error_event_and_nothing_is_sent(
    client: httpx.AsyncClient, service: RunService
) -> None:
    with FakeServer(Script(llama_cpp=True)) as llama:
        started = (await client.post("/api/sweep", json=body(llama.url, depth=[64, 40_000]))).json()
        error, end = events((await client.get(f"/api/sweep/{started['sweep_id']}/stream")).text)
        chats = [r for r in llama.requests if r.path == "/v1/chat/completions"]
    assert error == {"type": "error", "message": f"depth: 40,000 tokens is beyond the server's context per "
                                                 f"slot of {DEFAULT_MODEL} (4,096 tokens, as llama.cpp says): pick "
                                                 "depths under it"}
    assert end["status"] == "failed" and end["cells"] == 0 and chats == []
    assert service.store.sweep_runs(started["sweep_id"]) == []


async def test_a_point_past_the_servers_slots_carries_the_warning(client: httpx.AsyncClient) -> None:
    with FakeServer(Script(tokens=4, tokens_per_s=400, llama_cpp=True), slots=2) as llama:
        started = (await client.post("/api/sweep", json=body(llama.url, concurrency=[2, 3]))).json()
        two, three, end = events((await client.get(f"/api/sweep/{started['sweep_id']}/stream")).text)
    assert two["warnings"] == [] and two["aggregate"]["queued_streams"] == 0
    assert three["warnings"] == ["concurrency 3 is above the server's 2 slots: 1 of the streams queue for a slot, "
                                 "so their TTFT includes the wait"]
    assert (three["aggregate"]["server_slots"], three["aggregate"]["queued_streams"]) == (2, 1)
    assert end["status"] == "completed"
