"""The fault matrix of issue 7: whatever a model server or the network does, a run ends in a clear state.

For every fault, on both protocols (Ollama's NDJSON and the OpenAI-compatible SSE), each face must show a
clear message naming the server, the history must hold the run as ``failed`` or ``cancelled`` with every
completed iteration, and the next ordinary run on the same backend must succeed. The faces:

- **engine**: ``Run`` + ``Recorder`` + ``Store`` on one ``Backend``, as every face uses them;
- **CLI**: ``llamaburn.cli.main`` in-process: the exit code, one ``llamaburn: error: ...`` line on stderr
  and the ``--json`` document;
- **SSE**: the REST API's ``POST /api/benchmark`` and its event stream, which must end with ``error``
  (or ``cancelled``), then ``GET /api/history/{id}``;
- **UI**: the NiceGUI page through the ``user`` fixture: a notification and an event-log line.

Faults are scripted on the fake server of ``llamaburn/testing/servers.py`` per chat request (``Server.arm``), and the
moments that matter (a cancel during a warmup, a restart between two iterations) are hooked on the engine's
own events (``Moments``), never guessed with a wall clock. Runs are a warmup and 3 iterations, and a
mid-run fault hits iteration 2, so each stored run must keep the warmup and iteration 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from nicegui import ui
from nicegui.testing import User

from llamaburn.api import router
from llamaburn.backends import base
from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.cli import main
from llamaburn.engine.bus import EventBus
from llamaburn.engine.events import Event, IterationComplete, IterationStart, Token, Warmup
from llamaburn.engine.registry import Registry, load_registry
from llamaburn.engine.runner import Run
from llamaburn.errors import BackendError, ModelNotFoundError, RunInProgressError
from llamaburn.service.assembly import BackendPool, prepare_run, resolve_model
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, OLLAMA_VERSION, FakeServer, Received, Script
from llamaburn.testing.page import marked
from llamaburn.ui.page import MainPage

PROTOCOLS = ("ollama", "openai")
BACKENDS: dict[str, type[Backend]] = {"ollama": OllamaBackend, "openai": OpenAIBackend}
LABELS = {"ollama": "Ollama", "openai": "OpenAI-compatible server"}
CHAT_PATHS = ("/api/chat", "/v1/chat/completions")
PROMPT = "Say hello"
NORMAL = Script(tokens=5)
ANSWER = "t0 t1 t2 t3 t4 "
PACED = Script(tokens=5, tokens_per_s=50)  # 80 ms a request: a cancel lands while the server still streams
SLOW = Script(tokens=50, tokens_per_s=50)  # 1 s a request: room for a real click or POST mid-request
KEPT_BEFORE_ITERATION_2 = [(True, 1, ANSWER), (False, 1, ANSWER)]  # the warmup and iteration 1
DNS_FAILURE_URL = "http://nonexistent.invalid:11434"  # .invalid never resolves (RFC 2606)


# The fake server, scripted per chat request, and restartable on its port


class Server(FakeServer):
    """``FakeServer`` whose chat requests follow a plan (``arm``) and that can stop and come back on one port.

    Its socket has ``SO_REUSEADDR``, so a server started on the port of one just stopped can bind it while
    the old connections sit in TIME_WAIT, as a restarted Ollama does.
    """

    def __init__(self, port: int = 0, models: tuple[str, ...] = (DEFAULT_MODEL,)) -> None:
        super().__init__(NORMAL, models)
        self._socket.close()
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)
        self.plan: list[Script] = []
        self._armed_at = 0
        self.running = False

    @property
    def chats(self) -> list[Received]:
        """The chat requests since the last ``arm``."""
        return [r for r in self.requests if r.path in CHAT_PATHS][self._armed_at :]

    def arm(self, *scripts: Script) -> None:
        """The next chat requests follow ``scripts`` in turn; every one after them is ``NORMAL``."""
        self.plan, self._armed_at = list(scripts), len([r for r in self.requests if r.path in CHAT_PATHS])

    async def _record(self, request: Any) -> Any:
        body = await super()._record(request)
        if request.url.path in CHAT_PATHS:
            turn = len(self.chats) - 1
            self.script = self.plan[turn] if 0 <= turn < len(self.plan) else NORMAL
        return body

    def start(self) -> Server:
        super().start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            super().stop()
            self.running = False
        self._socket.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[Server]:
    """One server for the module: starting and stopping one per test would cost more than the tests."""
    shared = Server().start()
    yield shared
    shared.stop()


@pytest.fixture
def server(fake: Server) -> Server:
    """The module's server, as new: no fault armed, its one model listed."""
    fake.arm()
    fake.models = [DEFAULT_MODEL]
    return fake


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Every server a test starts, stopped at its end (a restarted server is a new one on the same port)."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def own_server(servers: list[Server]) -> Server:
    """A server of this test's own, for tests that stop or restart it."""
    servers.append(Server().start())
    return servers[-1]


def restart(servers: list[Server], down: bool = False) -> Callable[[Run], None]:
    """An action that stops the current server and, unless ``down``, starts a new one on its port."""

    def act(_run: Run) -> None:
        old = servers[-1]
        old.stop()
        if not down:
            servers.append(Server(old.port).start())

    return act


def come_back(servers: list[Server]) -> Server:
    servers.append(Server(servers[-1].port).start())
    return servers[-1]


@pytest.fixture
def refused_port() -> Iterator[socket.socket]:
    """A loopback port that refuses connections: bound, never listening, so no one else takes it meanwhile."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def server_on(servers: list[Server], reserved: socket.socket) -> Server:
    """The server starting, at last, on a port that refused connections until now."""
    port = reserved.getsockname()[1]
    reserved.close()
    servers.append(Server(port).start())
    return servers[-1]


# Exact moments of a run, hooked on the engine's own events


def _phase(history: list[Event]) -> tuple[str, int] | None:
    for event in reversed(history):
        if isinstance(event, Warmup):
            return ("warmup", event.current)
        if isinstance(event, IterationStart):
            return ("iteration", event.iteration)
    return None


Moment = Callable[[list[Event], Event], bool]
MOMENTS: dict[str, Moment] = {
    # The first token of the warmup has arrived: the warmup request is in flight.
    "warmup": lambda history, event: isinstance(event, Token) and _phase(history) == ("warmup", 1),
    # The first token of iteration 2 has arrived: iteration 2 is in flight, iteration 1 is complete.
    "iteration": lambda history, event: isinstance(event, Token) and _phase(history) == ("iteration", 2),
    # Iteration 1 is complete and iteration 2 has not been asked for yet.
    "between": lambda history, event: isinstance(event, IterationComplete) and event.iteration == 1,
}


class Moments:
    """Runs an action the moment the engine publishes a chosen event, inside the publishing task."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._pending: list[tuple[Moment, Callable[[Run], None]]] = []

    def at(self, moment: str, action: Callable[[Run], None]) -> None:
        self._pending.append((MOMENTS[moment], action))

    def _published(self, bus: EventBus, event: Event) -> None:
        for entry in list(self._pending):
            when, action = entry
            if when(bus.history, event):
                self._pending.remove(entry)
                action(next(run for run in self.runs if run.bus is bus))


@pytest.fixture
def moments(monkeypatch: pytest.MonkeyPatch) -> Moments:
    hooks = Moments()
    publish, init = EventBus.publish, Run.__init__

    def publish_and_hook(bus: EventBus, event: Event) -> None:
        publish(bus, event)
        hooks._published(bus, event)

    def init_and_remember(run: Run, *args: Any, **kwargs: Any) -> None:
        init(run, *args, **kwargs)
        hooks.runs.append(run)

    monkeypatch.setattr(EventBus, "publish", publish_and_hook)
    monkeypatch.setattr(Run, "__init__", init_and_remember)
    return hooks


def cancel(run: Run) -> None:
    run.cancel()  # what the CLI's Ctrl-C handler, the API's cancel endpoint and the UI's Cancel button call


# Faults of one chat request


@dataclass(frozen=True)
class Fault:
    id: str
    script: Script
    messages: tuple[str, str]  # what the message must say, for Ollama and for OpenAI
    read_timeout_s: float | None = None

    def message(self, protocol: str) -> str:
        return self.messages[PROTOCOLS.index(protocol)]


def both(message: str) -> tuple[str, str]:
    return (message, message)


FAULTS = [
    Fault("closed-mid-stream", Script(tokens=5, drop_after=2), both("closed the connection mid-stream")),
    Fault("malformed-line", Script(tokens=5, malformed_after=2), both("sent malformed JSON")),
    Fault(
        "error-object-in-stream",
        Script(tokens=5, error_after=2, error_message="CUDA error: out of memory"),
        both("reported an error mid-stream: CUDA error: out of memory"),
    ),
    Fault(
        "http-404-unknown-model",
        Script(status=404, error_message=f"model '{DEFAULT_MODEL}' not found"),
        both(f"model '{DEFAULT_MODEL}' not found on"),
    ),
    Fault(
        "http-500",
        Script(status=500, error_message="llama runner process has terminated"),
        both("answered HTTP 500: llama runner process has terminated"),
    ),
    Fault(
        "http-429-retry-after",
        Script(status=429, retry_after=7, error_message="too many requests"),
        both("answered HTTP 429: too many requests (retry after 7 s)"),
    ),
    Fault(
        "http-503-retry-after",
        Script(status=503, retry_after=30, error_message="server is loading the model"),
        both("answered HTTP 503: server is loading the model (retry after 30 s)"),
    ),
    Fault(
        "stall-beyond-read-timeout",
        Script(tokens=5, stall_s=30, stall_after=2),
        both("sent nothing for 0.5 s (the read timeout); raise it with --read-timeout"),
        read_timeout_s=0.5,
    ),
    Fault(
        "stream-without-done",
        Script(tokens=5, no_done=True),
        ("ended the stream without its final (done) chunk", "ended the stream without [DONE]"),
    ),
]


def names_the_server(message: str, protocol: str, url: str) -> bool:
    return f"{LABELS[protocol]} at {url}" in message


# The engine face


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture
def store() -> Store:
    return Store()


async def measure(registry: Registry, backend: Backend, store: Store, iterations: int = 3, warmup: int = 1) -> Run:
    """One run as every face runs it (``prepare_run``): validated inputs, the model resolved, a recorder."""
    inputs = {"prompts": [PROMPT], "iterations": iterations, "warmup": warmup, "max_tokens": 64}
    request = RunRequest(inputs=inputs, backend=backend.name, url=backend.url, api_key=backend.api_key,
                         read_timeout=backend.read_timeout, model=DEFAULT_MODEL)
    pool = BackendPool(registry)
    pool.add(backend)  # the test's own backend, reused across runs with its connections; the test closes it
    prepared = await prepare_run(request, registry, pool)
    recorder = await prepared.record(store)
    assert recorder is not None
    await prepared.run.execute()
    await recorder.task
    return prepared.run


def kept(store: Store, run_id: str) -> list[tuple[bool, int, str]]:
    return [(it.warmup, it.index, it.output) for it in store.iterations(run_id)]


def assert_stored(
    store: Store, run_id: str, status: str, iterations: list[tuple[bool, int, str]], message: str | None = None
) -> None:
    """History holds the run with its final status, its error, every completed iteration and their summary."""
    record = store.get_run(run_id)
    assert record.status == status, (record.status, record.error)
    if message is not None:
        assert record.error is not None and message in record.error
    assert kept(store, run_id) == iterations
    measured = [it for it in iterations if not it[0]]
    assert (record.summary.get("ttft_ms") or {}).get("mean", 0) > 0 if measured else record.summary == {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_engine(fault: Fault, protocol: str, server: Server, store: Store, registry: Registry) -> None:
    backend = BACKENDS[protocol](server.url, read_timeout=fault.read_timeout_s)
    try:
        server.arm(NORMAL, NORMAL, fault.script)
        run = await measure(registry, backend, store)
        assert run.status == "failed" and run.error is not None
        assert fault.message(protocol) in run.error and names_the_server(run.error, protocol, server.url)
        assert run.bus.history[-1].type == "error"
        assert_stored(store, run.id, "failed", KEPT_BEFORE_ITERATION_2, fault.message(protocol))
        assert len(server.chats) == 3  # no retry: the failed iteration ends the run, iteration 3 is never asked
        again = await measure(registry, backend, store)  # the same backend, its connection pool included
        assert again.status == "completed" and len(again.iterations) == 3
    finally:
        await backend.aclose()


# The CLI face


def bench_args(protocol: str, url: str, iterations: int = 3, warmup: int = 1) -> list[str]:
    return [
        "bench",
        "--backend",
        protocol,
        "--url",
        url,
        "--model",
        DEFAULT_MODEL,
        "--prompt",
        PROMPT,
        "--iterations",
        str(iterations),
        "--warmup",
        str(warmup),
        "--json",
        "--quiet",
    ]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def assert_one_error_line(err: str, *fragments: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("llamaburn: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0].removeprefix("llamaburn: error: ")


def cli_succeeds(capsys: pytest.CaptureFixture[str], protocol: str, url: str) -> None:
    code, result, err = cli(capsys, *bench_args(protocol, url))
    assert code == 0 and err == "" and result is not None and result["status"] == "completed", err
    assert_stored(Store(), result["run_id"], "completed", [(True, 1, ANSWER)] + [(False, i, ANSWER) for i in (1, 2, 3)])


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
def test_fault_cli(fault: Fault, protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    server.arm(NORMAL, NORMAL, fault.script)
    timeout = ["--read-timeout", str(fault.read_timeout_s)] if fault.read_timeout_s else []
    code, result, err = cli(capsys, *bench_args(protocol, server.url), *timeout)
    assert code == 1
    message = assert_one_error_line(err, fault.message(protocol), f"{LABELS[protocol]} at {server.url}")
    assert result is not None and result["status"] == "failed" and result["error"] == message
    assert (len(result["warmups"]), len(result["iterations"])) == (1, 1)
    assert_stored(Store(), result["run_id"], "failed", KEPT_BEFORE_ITERATION_2, message)
    assert len(server.chats) == 3
    cli_succeeds(capsys, protocol, server.url)


# The SSE face (the REST API)


@dataclass
class Api:
    client: httpx.AsyncClient
    service: RunService


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # never a real Ollama: every request names its server
    service = RunService(load_registry(), Store())
    app = FastAPI()
    app.state.runs = service
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://llamaburn.test") as client:
        yield Api(client, service)
    await service.aclose()


def run_body(protocol: str, url: str, **fields: Any) -> dict[str, Any]:
    return {
        "backend": protocol,
        "url": url,
        "model_id": DEFAULT_MODEL,
        "prompt": PROMPT,
        "iterations": 3,
        "warmup": 1,
        **fields,
    }


async def api_start(api: Api, protocol: str, url: str, **fields: Any) -> str:
    response = await api.client.post("/api/benchmark", json=run_body(protocol, url, **fields))
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


async def follow(api: Api, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with aconnect_sse(api.client, "GET", f"/api/benchmark/{run_id}/stream") as source:
        return [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]


async def api_stored(api: Api, run_id: str) -> dict[str, Any]:
    """The run as ``GET /api/history/{id}`` has it once its final status is written."""
    for _ in range(500):
        response = await api.client.get(f"/api/history/{run_id}")
        if response.status_code == 200 and response.json()["status"] != "running":
            return dict(response.json())
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} never finished")


def api_kept(record: dict[str, Any]) -> list[tuple[bool, int, str]]:
    return [(it["warmup"], it["index"], it["output"]) for it in record["iterations"]]


async def api_succeeds(api: Api, protocol: str, url: str) -> None:
    run_id = await api_start(api, protocol, url)
    events = await follow(api, run_id)
    assert events[-1][0] == "complete"
    assert (await api_stored(api, run_id))["status"] == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_sse(
    fault: Fault, protocol: str, server: Server, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fault.read_timeout_s:  # the API cannot set a read timeout: its backends take the default (see the doc)
        monkeypatch.setattr(base, "DEFAULT_READ_TIMEOUT_S", fault.read_timeout_s)
    server.arm(NORMAL, NORMAL, fault.script)
    run_id = await api_start(api, protocol, server.url)
    events = await follow(api, run_id)
    kinds = [kind for kind, _ in events]
    assert kinds.count("warmup_complete") == 1 and kinds.count("iteration_complete") == 1
    assert kinds[-1] == "error" and "complete" not in kinds
    message = events[-1][1]["message"]
    assert fault.message(protocol) in message and names_the_server(message, protocol, server.url)
    record = await api_stored(api, run_id)
    assert (record["status"], record["error"]) == ("failed", message)
    assert api_kept(record) == KEPT_BEFORE_ITERATION_2
    assert len(server.chats) == 3
    await api_succeeds(api, protocol, server.url)


# The UI face


class Page:
    """A simulated browser tab on the app, and the engine service behind it."""

    def __init__(self, user: User, service: RunService, main_page: MainPage) -> None:
        self.user, self.service, self.main = user, service, main_page

    def element(self, marker: str) -> Any:
        return marked(self.user, marker)

    def text(self, marker: str) -> str:
        return str(self.element(marker).text)

    def log_lines(self) -> list[str]:
        return [label.text for label in self.element("event-log").descendants()]

    async def connect(self, protocol: str, url: str, connected: bool = True) -> None:
        """Pick the backend and URL as a user does; wait until the header says whether it answers."""
        bar = self.main.backend_bar
        previous = bar.backend  # the page connected to its default backend when it opened
        with self.user:
            bar.url.value = url
            switch = bar.kind.value != protocol
            if switch:
                bar.kind.value = protocol  # its change connects
        if not switch:
            self.user.find(marker="backend-url").trigger("keydown.enter")  # one connect at a time, never two
        expected = BACKENDS[protocol](url).url
        if connected:
            await until(
                lambda: (
                    bar.backend is not None
                    and bar.backend is not previous
                    and bar.backend.url == expected
                    and self.text("backend-status").startswith("connected")
                    and bar.model.value is not None
                )
            )
        else:
            await until(lambda: bar.backend is None and self.text("backend-status") == "unreachable")

    async def run(self, iterations: int = 3, warmup: int = 1, wait: bool = True) -> Run:
        """Fill the form, press Run, and (with ``wait``) wait until the page shows the run's end."""
        started = len(self.service.runs)
        with self.user:
            self.element("field-iterations").value = iterations
            self.element("field-warmup").value = warmup
            self.element("field-prompts").value = PROMPT
        self.user.find(marker="run-button").click()
        await until(lambda: len(self.service.runs) == started + 1)
        run = list(self.service.runs.values())[-1]
        if wait:
            await self.ended(run)
        return run

    async def ended(self, run: Run) -> None:
        """The page shows the run's end, the Run button is back, and history holds the final status."""
        await until(lambda: run.done.is_set() and self.text("live-progress") in ("Complete", "Cancelled", "Failed"))
        await until(lambda: self.element("run-button").enabled)
        await until(lambda: self.service.store.get_run(run.id).status != "running")

    async def history_shows(self, run: Run) -> None:
        """The history table (refreshed on a 0.25 s timer) lists the run with its stored status."""
        status = self.service.store.get_run(run.id).status
        await until(lambda: (run.id, status) in {(r["id"], r["status"]) for r in self.element("history-table").rows})

    async def succeeds(self) -> None:
        run = await self.run()
        assert run.status == "completed" and self.text("live-progress") == "Complete"
        assert self.text("live-text") == ANSWER


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll ``condition``; an element not on the page yet (``find`` raises) counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def open_page(user: User, service: RunService) -> Page:
    pages: list[MainPage] = []

    # Defined here, in a tests.* module, so that the harness does not drop llamaburn from sys.modules after
    # the test (it does for page functions of other modules, e.g. llamaburn.server.register_pages).
    @ui.page("/")
    def index() -> None:
        pages.append(MainPage(service))

    await user.open("/")
    page = Page(user, service, pages[-1])
    await until(lambda: page.text("backend-status") != "not connected" and "…" not in page.text("backend-status"))
    return page


@pytest.fixture
async def app_service(server: Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunService]:
    monkeypatch.setenv("OLLAMA_HOST", server.url)  # the page's default backend: Ollama, at the fake server
    service = RunService(load_registry(), Store())
    yield service
    await service.aclose()


@pytest.fixture
async def page(user: User, app_service: RunService) -> Page:
    return await open_page(user, app_service)


def assert_ui_failed(page: Page, run: Run, message: str) -> None:
    assert page.text("live-progress") == "Failed"
    assert page.user.notify.contains(message), page.user.notify.messages
    assert f"error: {run.error}" in page.log_lines()
    assert message in (run.error or "")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_ui(
    fault: Fault, protocol: str, server: Server, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fault.read_timeout_s:  # the UI cannot set a read timeout either (see the doc)
        monkeypatch.setattr(base, "DEFAULT_READ_TIMEOUT_S", fault.read_timeout_s)
    await page.connect(protocol, server.url)  # a backend made now, so it takes the read timeout above
    server.arm(NORMAL, NORMAL, fault.script)
    run = await page.run()
    assert_ui_failed(page, run, fault.message(protocol))
    assert names_the_server(run.error or "", protocol, server.url)
    await page.history_shows(run)
    assert [row["iteration"] for row in page.element("live-iterations").rows] == [1]
    assert_stored(page.service.store, run.id, "failed", KEPT_BEFORE_ITERATION_2, fault.message(protocol))
    assert len(server.chats) == 3
    await page.succeeds()


# Connection refused and DNS failure, before a run can begin: nothing is measured, so nothing is stored


def not_reachable(protocol: str, url: str) -> str:
    return f"{LABELS[protocol]} at {url} is not reachable"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_engine(
    protocol: str, refused_port: socket.socket, servers: list[Server], store: Store, registry: Registry
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    backend = BACKENDS[protocol](url)
    try:
        with pytest.raises(BackendError, match="is not reachable") as raised:
            await measure(registry, backend, store)
        assert not_reachable(protocol, url) in str(raised.value)
        assert store.count_runs() == 0
        server_on(servers, refused_port)  # the server comes up: the same backend object now works
        assert (await measure(registry, backend, store)).status == "completed"
    finally:
        await backend.aclose()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connection_refused_cli(
    protocol: str, refused_port: socket.socket, servers: list[Server], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    code, result, err = cli(capsys, *bench_args(protocol, url))
    assert code == 1 and result is None
    assert_one_error_line(err, not_reachable(protocol, url))
    assert Store().count_runs() == 0
    server_on(servers, refused_port)
    cli_succeeds(capsys, protocol, url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_api(
    protocol: str, refused_port: socket.socket, servers: list[Server], api: Api
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    response = await api.client.post("/api/benchmark", json=run_body(protocol, url))
    assert response.status_code == 502 and not_reachable(protocol, url) in response.json()["detail"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    assert api.service.runs == {}  # no run, so no stream to follow
    server_on(servers, refused_port)
    await api_succeeds(api, protocol, url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_ui(
    protocol: str, refused_port: socket.socket, servers: list[Server], page: Page
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    await page.connect(protocol, url, connected=False)
    assert page.user.notify.contains(not_reachable(protocol, url))
    assert any(line.startswith("error: ") and not_reachable(protocol, url) in line for line in page.log_lines())
    assert page.service.store.count_runs() == 0
    server_on(servers, refused_port)
    page.user.find(marker="backend-url").trigger("keydown.enter")  # the user tries again
    await until(lambda: page.text("backend-status").startswith("connected"))
    await page.succeeds()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_engine(protocol: str, server: Server, store: Store, registry: Registry) -> None:
    backend = BACKENDS[protocol](DNS_FAILURE_URL)
    try:
        with pytest.raises(BackendError, match="is not reachable") as raised:
            await measure(registry, backend, store)
        assert not_reachable(protocol, DNS_FAILURE_URL) in str(raised.value)
        assert store.count_runs() == 0
    finally:
        await backend.aclose()
    async with BACKENDS[protocol](server.url) as working:
        assert (await measure(registry, working, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dns_failure_cli(protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, result, err = cli(capsys, *bench_args(protocol, DNS_FAILURE_URL))
    assert code == 1 and result is None
    assert_one_error_line(err, not_reachable(protocol, DNS_FAILURE_URL))
    assert Store().count_runs() == 0
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_api(protocol: str, server: Server, api: Api) -> None:
    response = await api.client.post("/api/benchmark", json=run_body(protocol, DNS_FAILURE_URL))
    assert response.status_code == 502
    assert not_reachable(protocol, DNS_FAILURE_URL) in response.json()["detail"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_ui(protocol: str, server: Server, page: Page) -> None:
    await page.connect(protocol, DNS_FAILURE_URL, connected=False)
    assert page.user.notify.contains(not_reachable(protocol, DNS_FAILURE_URL))
    assert any(not_reachable(protocol, DNS_FAILURE_URL) in line for line in page.log_lines())
    await page.connect(protocol, server.url)
    await page.succeeds()


# An unknown model, found before the run begins (the mid-run 404 is in FAULTS)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_model_at_start_engine(protocol: str, server: Server, store: Store) -> None:
    async with BACKENDS[protocol](server.url) as backend:
        with pytest.raises(ModelNotFoundError, match=f"model 'gpt-9' not found on {LABELS[protocol]}"):
            await resolve_model(backend, "gpt-9")
        assert store.count_runs() == 0 and server.chats == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_model_at_start_cli(protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    args = bench_args(protocol, server.url)
    args[args.index(DEFAULT_MODEL)] = "gpt-9"
    code, result, err = cli(capsys, *args)
    assert code == 1 and result is None
    assert_one_error_line(err, "model 'gpt-9' not found on", f"available: {DEFAULT_MODEL}")
    assert Store().count_runs() == 0
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_model_at_start_api(protocol: str, server: Server, api: Api) -> None:
    response = await api.client.post("/api/benchmark", json=run_body(protocol, server.url, model_id="gpt-9"))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "model_id"] and "model 'gpt-9' not found" in error["msg"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_model_removed_after_listing_ui(protocol: str, server: Server, page: Page) -> None:
    await page.connect(protocol, server.url)
    server.models = ["qwen3:4b"]  # `ollama rm` after the page listed the models
    page.user.find(marker="run-button").click()
    message = f"model '{DEFAULT_MODEL}' not found on {LABELS[protocol]}"
    await until(lambda: page.user.notify.contains(message))
    assert any(line.startswith("error: ") and message in line for line in page.log_lines())
    assert page.service.runs == {} and page.service.store.count_runs() == 0
    assert page.element("run-button").enabled
    server.models = [DEFAULT_MODEL]
    await page.succeeds()


# The server goes away, or restarts, between two iterations


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_engine(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, store: Store, registry: Registry
) -> None:
    async with BACKENDS[protocol](own_server.url) as backend:
        moments.at("between", restart(servers))
        run = await measure(registry, backend, store)
        assert run.status == "completed" and len(run.iterations) == 3
        assert [len(s.chats) for s in servers] == [2, 2]  # warmup + iteration 1, then iterations 2 and 3
        assert_stored(store, run.id, "completed", [(True, 1, ANSWER)] + [(False, i, ANSWER) for i in (1, 2, 3)])

        moments.at("between", restart(servers, down=True))
        down = await measure(registry, backend, store)
        assert down.status == "failed" and not_reachable(protocol, own_server.url) in (down.error or "")
        assert_stored(store, down.id, "failed", KEPT_BEFORE_ITERATION_2, "is not reachable")
        come_back(servers)
        assert (await measure(registry, backend, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_restart_between_iterations_cli(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, capsys: pytest.CaptureFixture[str]
) -> None:
    moments.at("between", restart(servers))
    code, result, err = cli(capsys, *bench_args(protocol, own_server.url))
    assert code == 0 and result is not None and result["status"] == "completed", err
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    code, result, err = cli(capsys, *bench_args(protocol, own_server.url))
    assert code == 1 and result is not None
    message = assert_one_error_line(err, not_reachable(protocol, own_server.url))
    assert_stored(Store(), result["run_id"], "failed", KEPT_BEFORE_ITERATION_2, message)
    come_back(servers)
    cli_succeeds(capsys, protocol, own_server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_sse(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, api: Api
) -> None:
    moments.at("between", restart(servers))
    await api_succeeds(api, protocol, own_server.url)
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    run_id = await api_start(api, protocol, own_server.url)
    events = await follow(api, run_id)
    assert events[-1][0] == "error" and not_reachable(protocol, own_server.url) in events[-1][1]["message"]
    record = await api_stored(api, run_id)
    assert record["status"] == "failed" and api_kept(record) == KEPT_BEFORE_ITERATION_2
    come_back(servers)
    await api_succeeds(api, protocol, own_server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_ui(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, page: Page
) -> None:
    await page.connect(protocol, own_server.url)
    moments.at("between", restart(servers))
    await page.succeeds()
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    run = await page.run()
    assert_ui_failed(page, run, not_reachable(protocol, own_server.url))
    assert_stored(page.service.store, run.id, "failed", KEPT_BEFORE_ITERATION_2, "is not reachable")
    come_back(servers)
    await page.succeeds()


# Cancel: during the warmup, during an iteration, and between two iterations

CANCELS = {  # where the cancel lands -> what history keeps, and how many chat requests the server saw
    "warmup": ([], 1),
    "iteration": (KEPT_BEFORE_ITERATION_2, 3),
    "between": (KEPT_BEFORE_ITERATION_2, 2),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_engine(
    moment: str, protocol: str, server: Server, moments: Moments, store: Store, registry: Registry
) -> None:
    iterations, chats = CANCELS[moment]
    async with BACKENDS[protocol](server.url) as backend:
        server.arm(PACED, PACED, PACED)
        moments.at(moment, cancel)
        run = await measure(registry, backend, store)
        assert run.status == "cancelled" and run.error is None and run.bus.history[-1].type == "cancelled"
        assert_stored(store, run.id, "cancelled", iterations)
        assert len(server.chats) == chats
        assert (await measure(registry, backend, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
def test_cancel_cli(
    moment: str, protocol: str, server: Server, moments: Moments, capsys: pytest.CaptureFixture[str]
) -> None:
    iterations, chats = CANCELS[moment]
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    code, result, err = cli(capsys, *bench_args(protocol, server.url))
    assert code == 130 and err == "" and result is not None and result["status"] == "cancelled"
    assert_stored(Store(), result["run_id"], "cancelled", iterations)
    assert len(server.chats) == chats
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_sse(moment: str, protocol: str, server: Server, moments: Moments, api: Api) -> None:
    iterations, chats = CANCELS[moment]
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    run_id = await api_start(api, protocol, server.url)
    events = await follow(api, run_id)
    assert events[-1] == ("cancelled", {"type": "cancelled"})
    record = await api_stored(api, run_id)
    assert (record["status"], record["error"]) == ("cancelled", None) and api_kept(record) == iterations
    assert len(server.chats) == chats
    await api_succeeds(api, protocol, server.url)


def assert_ui_cancelled(page: Page) -> None:
    assert page.text("live-progress") == "Cancelled"
    assert page.user.notify.contains("Run cancelled; completed iterations are kept in history")
    assert "run cancelled: completed iterations are kept" in page.log_lines()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_ui(moment: str, protocol: str, server: Server, moments: Moments, page: Page) -> None:
    iterations, chats = CANCELS[moment]
    await page.connect(protocol, server.url)
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    run = await page.run()
    assert_ui_cancelled(page)
    await page.history_shows(run)
    assert_stored(page.service.store, run.id, "cancelled", iterations)
    assert len(server.chats) == chats
    await page.succeeds()


async def test_cancel_button_during_warmup_ui(server: Server, page: Page) -> None:
    """The real Cancel button, pressed while the warmup streams (a 1 s request): nothing measured, nothing kept."""
    server.arm(SLOW)
    run = await page.run(wait=False)
    await until(lambda: page.text("live-progress") == "Warmup 1/1" and page.text("live-text") != "")
    page.user.find(marker="cancel-button").click()
    await page.ended(run)
    assert_ui_cancelled(page)
    assert_stored(page.service.store, run.id, "cancelled", [])
    assert len(server.chats) == 1
    await page.succeeds()


async def test_cancel_endpoint_during_warmup_sse(server: Server, api: Api) -> None:
    """The real cancel endpoint, called while the warmup streams: the stream ends with ``cancelled``."""
    server.arm(SLOW)
    run_id = await api_start(api, "ollama", server.url)
    run = api.service.runs[run_id]
    await until(lambda: any(isinstance(event, Token) for event in run.bus.history))
    response = await api.client.post(f"/api/benchmark/{run_id}/cancel")
    assert response.status_code == 202
    assert [kind for kind, _ in await follow(api, run_id)][-1] == "cancelled"
    record = await api_stored(api, run_id)
    assert record["status"] == "cancelled" and record["iterations"] == []
    await api_succeeds(api, "ollama", server.url)


# Two runs started at once against one backend


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_runs_at_once_engine(protocol: str, server: Server, store: Store, registry: Registry) -> None:
    service = RunService(registry, store)
    try:
        checked = RunRequest(inputs={"prompts": [PROMPT], "iterations": 3, "warmup": 1}, backend=protocol,
                             url=server.url, model=DEFAULT_MODEL)
        first, second = await asyncio.gather(service.start(checked), service.start(checked), return_exceptions=True)
        [run] = [r for r in (first, second) if isinstance(r, Run)]
        [refused] = [r for r in (first, second) if isinstance(r, RunInProgressError)]
        assert refused.run_id == run.id and "a run is already in progress on" in str(refused)
        await run.done.wait()
        assert run.status == "completed" and len(server.chats) == 4  # one run's requests, not two
        await until(lambda: store.get_run(run.id).status == "completed")
        assert store.count_runs() == 1  # the refused run never entered history
        again = await service.start(checked)
        await again.done.wait()
        assert again.status == "completed"
    finally:
        await service.aclose()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_runs_at_once_api(protocol: str, server: Server, api: Api) -> None:
    body = run_body(protocol, server.url)
    responses = await asyncio.gather(*(api.client.post("/api/benchmark", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [202, 409]
    accepted = next(r for r in responses if r.status_code == 202).json()
    busy = next(r for r in responses if r.status_code == 409).json()
    assert busy["run_id"] == accepted["run_id"] and "a run is already in progress on" in busy["detail"]
    assert [kind for kind, _ in await follow(api, accepted["run_id"])][-1] == "complete"
    assert (await api.client.get("/api/history")).json()["total"] == 1
    await api_succeeds(api, protocol, server.url)


async def test_two_runs_at_once_ui(
    server: Server, page: Page, create_user: Callable[[], User], app_service: RunService
) -> None:
    """Two tabs press Run together on one backend: one runs, the other is told why it cannot."""
    other = await open_page(create_user(), app_service)
    await until(lambda: other.text("backend-status").startswith("connected"))
    server.arm(PACED, PACED, PACED, PACED)
    page.user.find(marker="run-button").click()
    other.user.find(marker="run-button").click()
    await until(lambda: len(app_service.runs) == 1)
    [run] = app_service.runs.values()
    busy = "a run is already in progress on Ollama"
    await until(lambda: any(busy in line for tab in (page, other) for line in tab.log_lines()))
    refused = [tab for tab in (page, other) if any(busy in line for line in tab.log_lines())]
    assert len(refused) == 1
    assert refused[0].user.notify.contains(busy) or (page if refused[0] is other else other).user.notify.contains(busy)
    runner = other if refused[0] is page else page
    await runner.ended(run)
    assert run.status == "completed" and app_service.store.count_runs() == 1
    await refused[0].succeeds()


def test_two_runs_at_once_from_two_cli_processes_the_second_is_refused(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second ``llamaburn bench`` process on a server the first is measuring is refused at once, naming the
    first run and its process (the server's lock), stores nothing, and the first run goes on undisturbed."""
    server.arm(*[PACED] * 200)  # 80 ms a request: the first run's 30 iterations outlast the second attempt
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    first = subprocess.Popen(
        [sys.executable, "-m", "llamaburn", *bench_args("ollama", server.url, 30, 0)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        store = Store()
        deadline = time.monotonic() + 30
        while not (store.list_runs() and server.chats) and time.monotonic() < deadline:
            time.sleep(0.02)
        [running] = store.list_runs()
        chats = len(server.chats)
        code, result, err = cli(capsys, *bench_args("ollama", server.url))  # while the first one streams
        assert code == 2 and result is None
        assert_one_error_line(
            err,
            f"a run is already in progress on Ollama at {server.url} (run {running.id}, "
            f"in another llamaburn process, pid {first.pid}): wait for it or cancel it",
        )
        assert [run.id for run in store.list_runs()] == [running.id]  # the refused run was never stored
        # No request from a second client: the first one's connection, or none yet if the refusal was quick.
        assert len({r.client_port for r in server.chats[chats:]}) <= 1
        assert store.get_run(running.id).status == "running"
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 130
    assert [run.status for run in Store().list_runs()] == ["cancelled"]
    cli_succeeds(capsys, "ollama", server.url)  # the lock went with the first process


# Neighbours of the matrix: what a server says besides its chat stream


class _CaptivePortal(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in to the hotel Wi-Fi</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def captive_portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    portal = ThreadingHTTPServer(("127.0.0.1", 0), _CaptivePortal)
    thread = threading.Thread(target=portal.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{portal.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    yield url
    portal.shutdown()
    portal.server_close()


def test_hugging_face_behind_a_captive_portal_does_not_break_a_run_cli(
    server: Server, captive_portal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_succeeds(capsys, "ollama", server.url)  # Hugging Face is optional: it must contribute nothing, quietly


async def test_hugging_face_behind_a_captive_portal_does_not_break_a_run_api(
    server: Server, captive_portal: str, api: Api
) -> None:
    await api_succeeds(api, "ollama", server.url)


@respx.mock
async def test_absurd_server_counts_still_end_the_run_engine(store: Store, registry: Registry) -> None:
    url = "http://127.0.0.1:11434"

    async def answer() -> AsyncIterator[bytes]:
        yield b'{"message": {"role": "assistant", "content": "Hi"}, "done": false}\n'
        yield b'{"message": {"role": "assistant", "content": ""}, "done": true, "eval_count": 1e308}\n'

    respx.get(f"{url}/api/tags").mock(return_value=httpx.Response(200, json={"models": [{"name": DEFAULT_MODEL}]}))
    respx.get(f"{url}/api/version").mock(return_value=httpx.Response(200, json={"version": OLLAMA_VERSION}))
    respx.post(f"{url}/api/chat").mock(side_effect=lambda request: httpx.Response(200, content=answer()))
    async with OllamaBackend(url) as backend:
        run = await measure(registry, backend, store, iterations=2, warmup=0)
    assert run.bus.history[-1].type in ("complete", "error")
    assert store.get_run(run.id).status == run.status != "running"


async def test_a_summary_that_cannot_be_made_still_ends_the_run_engine(
    server: Server, store: Store, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks the summary (a plugin's odd metrics), the run still publishes its end, and is stored."""

    def broken(iterations: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
        raise ArithmeticError("no summary")

    monkeypatch.setattr("llamaburn.engine.runner.summarize", broken)
    async with OllamaBackend(server.url) as backend:
        run = await measure(registry, backend, store, iterations=1, warmup=0)
    assert run.bus.history[-1].type == "error" and run.summary == {}
    assert run.status == "failed" and run.error == "ArithmeticError: no summary"
    record = store.get_run(run.id)
    assert (record.status, record.error, kept(store, run.id)) == ("failed", run.error, [(False, 1, ANSWER)])
