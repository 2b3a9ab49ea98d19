"""The API face alone, as a script or CI job drives it: the router mounted for a service on an app of its
own (``llamaburn.api.mount``, the call ``create_app`` makes), reached in-process or served live, and the
calls a client makes: start a run, follow its events, read it back from history.

In-process calls go through httpx's ASGI transport, which buffers a whole response: fine for a stream that
ends, wrong for one a test reads while it runs. ``LiveApp`` serves the app under uvicorn for those.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from llamaburn.api import mount
from llamaburn.service.runs import RunService

SseEvent = tuple[str, dict[str, Any]]
BASE_URL = "http://llamaburn.test"


def api_app(service: RunService) -> FastAPI:
    """The API for ``service`` on an app of its own, which closes the service when it shuts down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = FastAPI(lifespan=lifespan)
    mount(app, service)
    return app


@asynccontextmanager
async def in_process(app: FastAPI, service: RunService) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` through the ASGI transport (which runs no lifespan, so ``service`` is closed here)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client
    await service.aclose()


@dataclass
class Api:
    """A client of the API, and the service behind it (a test reads its runs and its store)."""

    client: httpx.AsyncClient
    service: RunService


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


async def start(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """``POST /api/benchmark``, which must accept the run; its id."""
    response = await client.post("/api/benchmark", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


async def follow(client: httpx.AsyncClient, run_id: str) -> list[SseEvent]:
    """Every event of the run's stream, to its end, as (SSE event name, data)."""
    async with aconnect_sse(client, "GET", f"/api/benchmark/{run_id}/stream") as source:
        return [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]


async def stored(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The run as ``GET /api/history/{id}`` has it once its final status is written (the recorder writes in
    a thread, after the stream has ended)."""
    deadline = time.monotonic() + 10
    while True:
        response = await client.get(f"/api/history/{run_id}")
        if response.status_code == 200 and response.json()["status"] != "running":
            return dict(response.json())
        assert time.monotonic() < deadline, f"run {run_id} never finished: {response.text}"
        await asyncio.sleep(0.02)


def types(events: list[SseEvent]) -> list[str]:
    return [event for event, _ in events]


def kept(record: dict[str, Any]) -> list[tuple[bool, int, str]]:
    """(warmup, index, output) of each iteration a stored run keeps."""
    return [(it["warmup"], it["index"], it["output"]) for it in record["iterations"]]
