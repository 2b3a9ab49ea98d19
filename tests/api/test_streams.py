"""Starting and following runs over SSE, as a script or CI job does: every event in order, late and
resuming clients, keep-alive comments, a client that leaves; against the fake server and a respx-mocked
Ollama. Live streams run the app under a real uvicorn server (the ASGI transport buffers whole responses)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from httpx_sse import aconnect_sse

from llamaburn.api import RUN_ID_HEADER
from llamaburn.service.runs import RunService
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.api.bodies import ANSWER, run_body
from tests.harness.api import SseEvent, follow, start, stored, types


def answers(events: list[SseEvent]) -> list[str]:
    """The streamed text of each request, warmups included, from token events."""
    texts: list[str] = []
    for event, data in events:
        if event in ("warmup", "iteration_start"):
            texts.append("")
        elif event == "token":
            texts[-1] += data["text"]
    return texts


# Starting and following runs


async def test_a_run_streams_every_event_in_order_over_sse(live: httpx.AsyncClient, fake: FakeServer) -> None:
    run_id = await start(live, run_body(fake, prompts=["first", "second"], prompt=None))
    async with aconnect_sse(live, "GET", f"/api/benchmark/{run_id}/stream") as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers[RUN_ID_HEADER] == run_id
        received = [sse async for sse in source.aiter_sse()]
    events = [(sse.event, json.loads(sse.data)) for sse in received]

    tokens = ["token"] * len(ANSWER)
    assert types(events) == [
        "warmup",
        *tokens,
        "warmup_complete",
        "iteration_start",
        *tokens,
        "iteration_complete",
        "iteration_start",
        *tokens,
        "iteration_complete",
        "complete",
    ]
    assert all(data["type"] == event for event, data in events)
    assert [sse.id for sse in received] == [str(index) for index in range(len(received))]
    assert answers(events) == ["".join(ANSWER)] * 3
    assert events[0][1] == {"type": "warmup", "current": 1, "total": 1, "prompt": "first"}
    starts = [data for event, data in events if event == "iteration_start"]
    assert [(s["iteration"], s["total"], s["prompt"]) for s in starts] == [(1, 2, "second"), (2, 2, "first")]
    completes = [data for event, data in events if event == "iteration_complete"]
    assert [c["iteration"] for c in completes] == [1, 2]
    assert all(c["metrics"]["output_tokens"] == len(ANSWER) and c["metrics"]["ttft_ms"] > 0 for c in completes)
    summary = events[-1][1]["summary"]
    assert summary["output_tokens"]["mean"] == len(ANSWER) and summary["tps"]["mean"] > 0

    record = await stored(live, run_id)
    assert record["status"] == "completed" and record["model"] == DEFAULT_MODEL
    assert [(it["warmup"], it["output"]) for it in record["iterations"]] == [(True, "Hello, world!")] + [
        (False, "Hello, world!")
    ] * 2
    assert record["config"]["inputs"]["prompts"] == ["first", "second"]


async def test_a_late_client_gets_the_events_so_far_then_the_live_ones(
    live: httpx.AsyncClient, fake: FakeServer
) -> None:
    fake.script = Script(tokens=ANSWER, tokens_per_s=100)
    run_id = await start(live, run_body(fake, iterations=5))
    path = f"/api/benchmark/{run_id}/stream"
    early: list[SseEvent] = []
    late_task: asyncio.Task[list[SseEvent]] | None = None
    async with aconnect_sse(live, "GET", path) as source:
        async for sse in source.aiter_sse():
            early.append((sse.event, json.loads(sse.data)))
            if sse.event == "iteration_complete" and late_task is None:
                late_task = asyncio.create_task(follow(live, run_id))
    assert late_task is not None
    late = await late_task
    assert late == early
    assert types(late)[-1] == "complete"
    assert await follow(live, run_id) == early  # and after the end, the whole run again


async def test_the_current_run_stream_follows_the_newest_run(client: httpx.AsyncClient, fake: FakeServer) -> None:
    response = await client.get("/api/benchmark/stream")
    assert response.status_code == 404
    first = await start(client, run_body(fake, iterations=1, warmup=0))
    async with aconnect_sse(client, "GET", "/api/benchmark/stream") as source:
        assert source.response.headers[RUN_ID_HEADER] == first
        assert [sse.event async for sse in source.aiter_sse()][-1] == "complete"
    second = await start(client, run_body(fake, iterations=1, warmup=0))
    async with aconnect_sse(client, "GET", "/api/benchmark/stream") as source:
        assert source.response.headers[RUN_ID_HEADER] == second


async def test_last_event_id_resumes_after_that_event(client: httpx.AsyncClient, fake: FakeServer) -> None:
    run_id = await start(client, run_body(fake, iterations=1, warmup=0))
    path = f"/api/benchmark/{run_id}/stream"
    everything = await follow(client, run_id)
    async with aconnect_sse(client, "GET", path, headers={"Last-Event-ID": "2"}) as source:
        resumed = [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]
    assert resumed == everything[3:]
    final = str(len(everything) - 1)
    response = await client.get(path, headers={"Last-Event-ID": final})
    assert response.status_code == 204  # an EventSource stops reconnecting


async def test_a_quiet_stream_sends_keep_alive_comments(
    client: httpx.AsyncClient, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llamaburn.api.sse.HEARTBEAT_S", 0.05)
    fake.script = Script(tokens=ANSWER, stall_s=0.5, stall_after=1)
    run_id = await start(client, run_body(fake, iterations=1, warmup=0))
    response = await client.get(f"/api/benchmark/{run_id}/stream")
    assert ": keep-alive\n\n" in response.text
    assert response.text.rstrip().splitlines()[-1].startswith('data: {"type":"complete"')


async def test_a_client_that_leaves_is_unsubscribed(
    live: httpx.AsyncClient, fake: FakeServer, service: RunService
) -> None:
    fake.script = Script(tokens=5, tokens_per_s=50)
    run_id = await start(live, run_body(fake, iterations=100, warmup=0))
    bus = service.runs[run_id].bus
    async with aconnect_sse(live, "GET", f"/api/benchmark/{run_id}/stream") as source:
        async for _ in source.aiter_sse():
            assert len(bus._subscriptions) == 2  # the recorder and this client
            break
    deadline = time.monotonic() + 5
    while len(bus._subscriptions) > 1:
        assert time.monotonic() < deadline, "the stream kept its subscription after the client left"
        await asyncio.sleep(0.02)
    await live.post(f"/api/benchmark/{run_id}/cancel")


@respx.mock
async def test_events_against_a_respx_mocked_ollama(client: httpx.AsyncClient) -> None:
    url = "http://127.0.0.1:11434"
    words = ["The", " concept", " is"]

    async def ndjson() -> AsyncIterator[bytes]:
        for word in words:
            await asyncio.sleep(0.001)
            yield (
                json.dumps({"model": "m", "message": {"role": "assistant", "content": word}, "done": False}).encode()
                + b"\n"
            )
        yield (
            json.dumps(
                {
                    "model": "m",
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "eval_count": len(words),
                    "eval_duration": 3_000_000,
                }
            ).encode()
            + b"\n"
        )

    respx.get(f"{url}/api/tags").mock(return_value=httpx.Response(200, json={"models": [{"name": "m"}]}))
    respx.get(f"{url}/api/version").mock(return_value=httpx.Response(200, json={"version": "0.12.0"}))
    respx.get(f"{url}/api/ps").mock(return_value=httpx.Response(200, json={"models": []}))
    respx.post(f"{url}/api/show").mock(return_value=httpx.Response(200, json={"details": {"family": "gemma3"}}))
    chat = respx.post(f"{url}/api/chat").mock(
        side_effect=lambda request: httpx.Response(
            200, headers={"content-type": "application/x-ndjson"}, content=ndjson()
        )
    )
    body = {"backend": "ollama", "url": url, "prompt": "hi", "iterations": 2, "warmup": 0, "seed": 7}
    run_id = await start(client, body)
    events = await follow(client, run_id)
    assert types(events) == ["iteration_start", "token", "token", "token", "iteration_complete"] * 2 + ["complete"]
    assert answers(events) == ["The concept is"] * 2
    assert events[-1][1]["summary"]["server_tps"]["mean"] == pytest.approx(1000.0)
    assert json.loads(chat.calls.last.request.content)["options"]["seed"] == 7
    record = await stored(client, run_id)
    assert record["system"]["backend_version"] == "0.12.0" and record["model_info"]["family"] == "gemma3"
