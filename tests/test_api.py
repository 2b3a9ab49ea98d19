"""The REST and SSE API, as a script or CI job drives it: start, follow, cancel, queue, history, auth.

Most tests go through httpx's ASGI transport. Live streams run the app under a real uvicorn server on a
loopback port (the ASGI transport buffers whole responses), against the fake model server of llamaburn.testing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from httpx_sse import aconnect_sse
from hypothesis import HealthCheck, settings

from llamaburn.api import HEARTBEAT_S, RUN_ID_HEADER, mount, router
from llamaburn.api.auth import TokenAuth
from llamaburn.engine.registry import load_registry
from llamaburn.service.runs import RunService
from llamaburn.storage.store import IterationRecord, RunRecord, Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

ANSWER = ["Hello", ",", " world", "!"]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SseEvent = tuple[str, dict[str, Any]]


def make_app(service: RunService) -> FastAPI:
    """What the server module does: the service on app.state, the router included, the service closed last."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = FastAPI(lifespan=lifespan)
    mount(app, service)
    return app


class LiveApp:
    """The app under uvicorn on a free loopback port, in a background thread, like llamaburn.testing.FakeServer."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)

    def __enter__(self) -> LiveApp:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the app at {self.url} did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(autouse=True)
def no_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real Ollama or start the embedded server: the default backend is then missing."""
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr("llamaburn.backends.embedded.embedded_installed", lambda: False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # model info asks Hugging Face: refused at once


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=ANSWER)) as server:
        yield server


@pytest.fixture
def service() -> RunService:
    return RunService(load_registry(), Store())


@pytest.fixture
def app(service: RunService) -> FastAPI:
    return make_app(service)


@pytest.fixture
async def client(app: FastAPI, service: RunService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://llamaburn.test") as c:
        yield c
    await service.aclose()


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    with LiveApp(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10)) as c:
            yield c


def run_body(fake: FakeServer, **fields: Any) -> dict[str, Any]:
    body = {
        "backend": "ollama",
        "url": fake.url,
        "model_id": DEFAULT_MODEL,
        "prompt": "Say hello",
        "iterations": 2,
        "warmup": 1,
        "temperature": 0.0,
        "max_tokens": 64,
    }
    body.update(fields)
    return body


async def start(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/api/benchmark", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


async def follow(client: httpx.AsyncClient, path: str) -> list[SseEvent]:
    async with aconnect_sse(client, "GET", path) as source:
        return [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]


async def stored(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The run as history has it once its final status is written (the recorder writes in a thread)."""
    deadline = time.monotonic() + 10
    while True:
        response = await client.get(f"/api/history/{run_id}")
        if response.status_code == 200 and response.json()["status"] != "running":
            return dict(response.json())
        assert time.monotonic() < deadline, f"run {run_id} never finished: {response.text}"
        await asyncio.sleep(0.02)


def types(events: list[SseEvent]) -> list[str]:
    return [event for event, _ in events]


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
                late_task = asyncio.create_task(follow(live, path))
    assert late_task is not None
    late = await late_task
    assert late == early
    assert types(late)[-1] == "complete"
    assert await follow(live, path) == early  # and after the end, the whole run again


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
    everything = await follow(client, path)
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
    events = await follow(client, f"/api/benchmark/{run_id}/stream")
    assert types(events) == ["iteration_start", "token", "token", "token", "iteration_complete"] * 2 + ["complete"]
    assert answers(events) == ["The concept is"] * 2
    assert events[-1][1]["summary"]["server_tps"]["mean"] == pytest.approx(1000.0)
    assert json.loads(chat.calls.last.request.content)["options"]["seed"] == 7
    record = await stored(client, run_id)
    assert record["system"]["backend_version"] == "0.12.0" and record["model_info"]["family"] == "gemma3"


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
    fake.script = Script(tokens=5, tokens_per_s=100)
    first = await start(live, run_body(fake, prompt="first", iterations=1000, warmup=0))
    busy = await live.post("/api/benchmark", json=run_body(fake, prompt="second"))
    assert busy.status_code == 409
    assert busy.json()["run_id"] == first and first in busy.json()["detail"]

    queued = await live.post("/api/benchmark", json=run_body(fake, prompt="second", warmup=0, queue=True))
    assert queued.status_code == 202 and queued.json()["queued"] is True
    second = queued.json()["run_id"]
    jumped = await live.post("/api/benchmark", json=run_body(fake, prompt="third"))
    assert jumped.status_code == 409  # no jumping the line
    assert (await live.post(f"/api/benchmark/{first}/cancel")).status_code == 202

    events = await follow(live, f"/api/benchmark/{second}/stream")
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
    assert types(await follow(client, f"/api/benchmark/{waiting}/stream")) == ["cancelled"]
    record = await stored(client, waiting)
    assert record["status"] == "cancelled" and record["iterations"] == []
    assert (await client.get(f"/api/history/{first}")).json()["status"] == "running"
    await client.post(f"/api/benchmark/{first}/cancel")
    assert types(await follow(client, f"/api/benchmark/{first}/stream"))[-1] == "cancelled"


async def test_queue_on_a_free_backend_starts_at_once(client: httpx.AsyncClient, fake: FakeServer) -> None:
    response = await client.post("/api/benchmark", json=run_body(fake, queue=True))
    assert response.status_code == 202 and response.json()["queued"] is False
    events = await follow(client, f"/api/benchmark/{response.json()['run_id']}/stream")
    assert types(events)[-1] == "complete"


# Errors


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        ({"iterations": 0}, ["body", "iterations"], "greater than or equal to 1"),
        ({"iterations": "many"}, ["body", "iterations"], "valid integer"),
        ({"warmup": -1}, ["body", "warmup"], "greater than or equal to 0"),
        ({"temperature": 2.5}, ["body", "temperature"], "less than or equal to 2"),
        ({"max_tokens": 0}, ["body", "max_tokens"], "greater than or equal to 1"),
        ({"prompt": "  "}, ["body", "prompt"], "a prompt is empty"),
        ({"prompt": None, "prompts": ["ok", ""]}, ["body", "prompts"], "a prompt is empty"),
        ({"prompt": None, "prompts": []}, ["body", "prompts"], "at least 1 item"),
        ({"prompts": ["a"]}, ["body", "prompt"], "prompt or prompts, not both"),
        ({"type": "poetry"}, ["body", "type"], "unknown modality 'poetry'; choose from: text, image"),
        ({"type": "audio"}, ["body", "type"], "Audio benchmarks are coming soon: only text, code can run"),
        ({"api_key": "clé"}, ["body", "api_key"], "must be visible ASCII characters"),  # found by schemathesis
        ({"type": "image"}, ["body", "type"], "Image benchmarks are coming soon"),
        ({"backend": "vllm"}, ["body", "backend"], "unknown backend 'vllm'; choose from: ollama, openai"),
        ({"model_id": " "}, ["body", "model_id"], "must not be empty"),
        ({"image_path": "x.png"}, ["body", "image_path"], "Extra inputs are not permitted"),
        ({"url": "http://[::1"}, ["body", "url"], "not a usable server URL"),
        ({"url": "ftp://host"}, ["body", "url"], "not a usable server URL"),
        ({"url": "http://" + "a" * 70 + ".test"}, ["body", "url"], "not a usable server URL"),
        ({"backend": "embedded", "url": "http://127.0.0.1:1"}, ["body", "url"], "starts its own server"),
        ({"model_id": "gpt-9"}, ["body", "model_id"], "model 'gpt-9' not found on Ollama"),
    ],
)
async def test_invalid_bodies_get_422_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServer, fields: dict[str, Any], loc: list[Any], message: str
) -> None:
    response = await client.post("/api/benchmark", json=run_body(fake, **fields))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert message in error["msg"]
    assert not [r for r in fake.requests if r.path == "/api/chat"]


async def test_bodies_that_are_not_objects_get_422(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]", b'{"iterations": NaN}', b'{"temperature": Infinity}'):
        response = await client.post("/api/benchmark", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 422, (content, response.text)


async def test_an_unreachable_backend_is_502_and_no_backend_at_all_is_503(client: httpx.AsyncClient) -> None:
    down = "http://127.0.0.1:9"
    response = await client.post("/api/benchmark", json={"backend": "ollama", "url": down, "prompt": "hi"})
    assert response.status_code == 502
    assert "Ollama at http://127.0.0.1:9 is not reachable" in response.json()["detail"]
    assert (await client.get("/api/models", params={"backend": "openai", "url": down})).status_code == 502
    response = await client.post("/api/benchmark", json={"prompt": "hi"})
    assert response.status_code == 503 and "no backend found" in response.json()["detail"]


async def test_default_backend_is_ollama_when_it_answers(
    client: httpx.AsyncClient, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    run_id = await start(client, {"prompt": "hi", "iterations": 1, "warmup": 0})
    assert types(await follow(client, f"/api/benchmark/{run_id}/stream"))[-1] == "complete"
    assert (await stored(client, run_id))["backend"] == "ollama"


async def test_unknown_runs_are_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/benchmark/nope/stream"),
        ("POST", "/api/benchmark/nope/cancel"),
        ("GET", "/api/history/nope"),
        ("DELETE", "/api/history/nope"),
        ("GET", "/api/compare?ids=nope,nada"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "nope" in response.json()["detail"]


# History, compare, models, plugins


def add_runs(store: Store, count: int) -> list[str]:
    ids = []
    for minute in range(count):
        run_id = f"run-{minute:02d}-{'abcdefgh'[minute % 8]}"
        summary = {"tps": {"mean": 10.0 * (minute + 1), "min": 9.0, "max": 11.0}, "ttft_ms": {"mean": 100.0 - minute}}
        store.create_run(
            RunRecord(
                id=run_id,
                created_at=T0 + timedelta(minutes=minute),
                modality="text",
                backend="ollama",
                model=DEFAULT_MODEL,
                status="completed",
                summary=summary,
                config={"inputs": {"iterations": 1}},
            )
        )
        store.add_iteration(IterationRecord(run_id=run_id, index=1, prompt="p", output="o", metrics={"tps": 10.0}))
        ids.append(run_id)
    return ids


async def test_history_pages_newest_first_with_the_total(client: httpx.AsyncClient, service: RunService) -> None:
    ids = add_runs(service.store, 5)
    page = (await client.get("/api/history", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 1)
    assert [run["id"] for run in page["runs"]] == [ids[3], ids[2]]
    assert page["runs"][0]["summary"]["tps"]["mean"] == 40.0
    everything = (await client.get("/api/history")).json()
    assert [run["id"] for run in everything["runs"]] == ids[::-1]
    assert (await client.get("/api/history", params={"offset": 5})).json()["runs"] == []
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        response = await client.get("/api/history", params=bad)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", *bad]


async def test_history_gets_and_deletes_one_run_and_clears(
    client: httpx.AsyncClient, service: RunService
) -> None:
    ids = add_runs(service.store, 3)
    run = (await client.get(f"/api/history/{ids[0]}")).json()
    assert run["id"] == ids[0] and run["status"] == "completed"
    assert run["iterations"] == [{"index": 1, "warmup": False, "prompt": "p", "output": "o", "metrics": {"tps": 10.0}}]
    assert (await client.get(f"/api/history/{ids[1][:7]}")).json()["id"] == ids[1]  # a unique prefix

    assert (await client.delete(f"/api/history/{ids[0]}")).status_code == 204
    assert (await client.get(f"/api/history/{ids[0]}")).status_code == 404
    assert (await client.get("/api/history")).json()["total"] == 2
    assert (await client.delete("/api/history")).json() == {"deleted": 2}
    assert (await client.get("/api/history")).json() == {"total": 0, "limit": 50, "offset": 0, "runs": []}


async def test_compare_returns_the_engine_comparison(client: httpx.AsyncClient, service: RunService) -> None:
    ids = add_runs(service.store, 3)
    response = await client.get("/api/compare", params={"ids": f"{ids[0]}, {ids[2]}"})
    assert response.status_code == 200
    table = response.json()
    assert [run["id"] for run in table["runs"]] == [ids[0], ids[2]]
    tps = next(row for row in table["rows"] if row["key"] == "avg_tps")
    assert tps["values"] == [10.0, 30.0] and tps["winner"] == 1 and tps["diff_pct"] == [None, 200.0]
    one = await client.get("/api/compare", params={"ids": ids[0]})
    assert one.status_code == 422 and one.json()["detail"][0]["loc"] == ["query", "ids"]
    assert (await client.get("/api/compare")).status_code == 422


async def test_models_and_model_info(client: httpx.AsyncClient) -> None:
    with FakeServer(models=[DEFAULT_MODEL, "hf.co/org/model:Q4_K_M"]) as server:
        listed = (await client.get("/api/models", params={"backend": "ollama", "url": server.url})).json()
        assert listed["backend"] == "ollama" and listed["url"] == server.url
        assert [m["id"] for m in listed["models"]] == [DEFAULT_MODEL, "hf.co/org/model:Q4_K_M"]
        assert listed["models"][0]["details"]["quantization_level"] == "Q4_K_M"

        path = "/api/models/hf.co/org/model:Q4_K_M/info"
        described = await client.get(path, params={"backend": "ollama", "url": server.url})
        assert described.status_code == 200, described.text
        assert described.json()["model"] == "hf.co/org/model:Q4_K_M"
        info = described.json()["info"]
        assert (info["context_length"], info["quantization"], info["family"]) == (131072, "Q4_K_M", "llama")
        assert info["sources"]["context_length"] == "ollama"
        shows = len([r for r in server.requests if r.path == "/api/show"])
        await client.get(path, params={"backend": "ollama", "url": server.url})
        assert len([r for r in server.requests if r.path == "/api/show"]) == shows  # cached

        missing = await client.get("/api/models/nope/info", params={"backend": "ollama", "url": server.url})
        assert missing.status_code == 404 and "'nope' not found" in missing.json()["detail"]
        openai = {"backend": "openai", "url": server.url}
        assert (await client.get(f"/api/models/{DEFAULT_MODEL}/info", params=openai)).json()["info"][
            "model_id"
        ] == DEFAULT_MODEL
        assert (await client.get("/api/models/nope/info", params=openai)).status_code == 404
        bad = await client.get("/api/models", params={"backend": "nope"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "backend"]
        bad = await client.get("/api/models", params={"backend": "ollama", "url": "http://[::1"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "url"]


async def test_plugins_lists_modalities_and_backends(client: httpx.AsyncClient) -> None:
    plugins = (await client.get("/api/plugins")).json()
    rows = {(p["kind"], p["name"]): p for p in plugins}
    assert rows[("modality", "text")]["available"] is True
    assert rows[("modality", "audio")]["available"] is False
    assert {("backend", "ollama"), ("backend", "openai"), ("backend", "embedded")} <= set(rows)


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {
        "/api/benchmark",
        "/api/benchmark/stream",
        "/api/benchmark/{run_id}/stream",
        "/api/benchmark/{run_id}/cancel",
        "/api/history",
        "/api/history/{run_id}",
        "/api/compare",
        "/api/models",
        "/api/models/{model_id}/info",
        "/api/plugins",
        "/api/uploads",
    }
    assert "409" in schema["paths"]["/api/benchmark"]["post"]["responses"]
    assert (
        "text/event-stream" in schema["paths"]["/api/benchmark/{run_id}/stream"]["get"]["responses"]["200"]["content"]
    )


# Auth


def api_requests() -> list[tuple[str, str]]:
    """Every (method, path) the router serves, with placeholder path parameters."""
    calls = []
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            path = route.path.replace("{run_id}", "nope").replace("{model_id:path}", "m")
            calls += [(method, path) for method in sorted(route.methods)]
    return calls


async def test_with_a_token_every_endpoint_needs_it(app: FastAPI, service: RunService) -> None:
    calls = api_requests()
    assert len(calls) == 13
    transport = httpx.ASGITransport(app=TokenAuth(app, "s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://llamaburn.test") as c:
        for method, path in calls:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                response = await c.request(method, path, headers=headers, json={"iterations": 0})
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"] == "Bearer"
            response = await c.request(method, path, headers={"Authorization": "Bearer s3cret"}, json={"iterations": 0})
            assert response.status_code in (200, 404, 422, 503), (method, path, response.text)
        assert (await c.get("/api/plugins", headers={"Authorization": "Bearer s3cret"})).status_code == 200
    await service.aclose()


# Property tests: no generated input makes any endpoint fail


SCHEMATHESIS_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # 502 (the model server is unreachable: a generated URL) and 503 (no backend) are answers, not crashes.
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]},
            # A schema-valid body can still name a model or a prompt the engine refuses: 422 is right then.
            "positive_data_acceptance": {"enabled": False},
            # Starlette's 405 lists only the methods of the first route for a path (GET /api/history, not DELETE).
            "allow_header_conformance": {"enabled": False},
        }
    }
)


@pytest.fixture
def api_schema(service: RunService, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The live app, its default backend a fake Ollama whose chat always fails, so runs end at once."""
    with FakeServer(Script(status=500)) as server, LiveApp(make_app(service)) as app:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield schemathesis.openapi.from_url(f"{app.url}/openapi.json", config=SCHEMATHESIS_CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case: Any) -> None:
    case.call_and_validate(timeout=HEARTBEAT_S)
