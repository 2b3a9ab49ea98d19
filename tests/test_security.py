"""Security behaviour a user relies on: text is never HTML, API keys never land in clear, the token guards the
LAN, and no endpoint reads files.

- **Rendered as text**: prompts, model output, model names, plugin names and labels, and error messages that
  carry ``<script>`` and HTML land in label text in the UI (NiceGUI ``user`` fixture), never in an element
  that renders HTML (``ui.html``, ``ui.markdown``, an ``*html*`` prop, a ``v-html`` slot, a notification
  with ``html=True``).
- **API keys**: a run with ``--api-key`` / ``LLAMABURN_API_KEY`` / the API's ``api_key`` sends the key to
  the server, and the key is in no byte of the SQLite files, no ``--json``, ``history --json`` or
  ``export`` output, no API answer and no log record.
- **The LAN token**: wrong tokens of the same and of other lengths are refused (the comparison is
  constant-time, so length is the only thing a timing could tell, and it tells nothing here either).
- **No file reads**: path-like ids in ``/api/history/{id}`` and ``/api/models/{id}/info`` get 404 or 422.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from nicegui import ui
from nicegui.elements.mixins.content_element import ContentElement
from nicegui.testing import User
from nicegui.testing.user_notify import UserNotify
from starlette.types import Message

from llamaburn import server as ui_app
from llamaburn.api import router
from llamaburn.api.auth import COOKIE, TokenAuth
from llamaburn.cli import main
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import load_registry
from llamaburn.hookspecs import hookimpl
from llamaburn.service.runs import RunService
from llamaburn.storage.store import IterationRecord, RunRecord, Store, now
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.page import marked
from llamaburn.ui.page import MainPage

# Rendered as text

PROMPT = "<img src=x onerror=alert('prompt')>"
OUTPUT = ["<script>alert('output')</script>", "<b>bold</b>", "&lt;escaped&gt;"]
MODEL = "evil<svg onload=alert('model')>:latest"
ERROR = "<script>alert('error')</script><a href='javascript:alert(1)'>details</a>"
PLUGIN_LABEL = "<b onmouseover=alert('label')>Evil</b>"
METRIC_LABEL = "<i onclick=alert('metric')>Speed</i>"
PLUGIN_ERROR = "<iframe src=javascript:alert('plugin')>"
PAYLOADS = (PROMPT, "".join(OUTPUT), MODEL, ERROR, PLUGIN_LABEL, METRIC_LABEL, PLUGIN_ERROR)


class EvilModality(Modality):
    name = "evil"
    label = PLUGIN_LABEL
    available = False  # shown as "Coming Soon", with its label and its metrics' labels
    metrics = (Metric(name="speed", label=METRIC_LABEL, unit="tok/s", direction="higher"),)


class EvilPlugin:
    @hookimpl
    def register_modalities(self, register: Any) -> None:
        register(EvilModality())


class BrokenPlugin:
    @hookimpl
    def register_modalities(self, register: Any) -> None:
        raise ValueError(PLUGIN_ERROR)


class RecordingNotify(UserNotify):
    """The ``user`` fixture's notifications, with the options each was shown with (``html=True`` renders HTML)."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[dict[str, Any]] = []

    def __call__(self, message: str, **kwargs: Any) -> None:
        self.options.append(kwargs)
        super().__call__(message, **kwargs)


async def until(user: User, condition: Any, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def texts(user: User) -> list[str]:
    """The text of every element on the page (labels, log lines, badges, tooltips...)."""
    assert user.client is not None
    return [str(getattr(element, "text", "")) for element in user.client.elements.values()]


def assert_rendered_as_text(user: User, payload: str) -> None:
    assert user.client is not None
    for element in user.client.elements.values():
        if isinstance(element, ContentElement):  # ui.html, ui.markdown, ui.mermaid...: they render markup
            assert payload not in str(element.content), type(element).__name__
        for key, value in element.props.items():
            if "html" in key.lower():  # Quasar's html / options-html props render strings as HTML
                assert value in (False, None) and payload not in str(value), (type(element).__name__, key)
        for slot in element.slots.values():
            assert "v-html" not in (slot.template or ""), type(element).__name__
    notify = user.notify
    assert isinstance(notify, RecordingNotify)
    assert not any(options.get("html") for options in notify.options)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=OUTPUT), models=[MODEL]) as server:
        yield server


async def test_prompts_output_models_plugins_and_errors_render_as_text(
    user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    registry = load_registry(extra=[("evil", EvilPlugin()), ("broken", BrokenPlugin())])
    assert [p.error for p in registry.problems] == [f"register_modalities failed: ValueError: {PLUGIN_ERROR}"]
    service = RunService(registry, Store())
    user.notify = RecordingNotify()

    @ui.page("/")
    def index() -> None:
        MainPage(service)

    try:
        await user.open("/")
        await until(user, lambda: marked(user, "model-select").value == MODEL)
        await until(user, lambda: f"Model: {MODEL}" in texts(user))

        async def run(**script: Any) -> None:
            fake.script = Script(**script)
            started = len(service.runs)
            with user:
                marked(user, "field-iterations").value = 1
                marked(user, "field-warmup").value = 0
                marked(user, "field-prompts").value = PROMPT
            user.find(marker="run-button").click()
            await until(user, lambda: len(service.runs) == started + 1)
            await until(user, lambda: list(service.runs.values())[-1].done.is_set())
            await until(user, lambda: marked(user, "run-button").enabled)

        await run(tokens=OUTPUT)
        assert marked(user, "live-text").text == "".join(OUTPUT)
        assert marked(user, "live-prompt").text == PROMPT
        await run(status=500, error_message=ERROR)
        assert user.notify.contains(ERROR)
        assert any(line.startswith("error: ") and ERROR in line for line in texts(user))
        await until(user, lambda: len(marked(user, "history-table").rows) == 2)
        assert {row["model"] for row in marked(user, "history-table").rows} == {MODEL}

        rows = marked(user, "history-table").rows
        user.find(marker="history-table").trigger(
            "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
        )
        user.find(marker="compare-button").click()
        await until(user, lambda: marked(user, "comparison-title").text == f"Comparison: {MODEL} vs {MODEL}")

        user.find(marker="tab-evil").click()
        await user.should_see(f"{PLUGIN_LABEL} benchmarks: Coming Soon")
        await user.should_see(f"Will measure: {METRIC_LABEL}")
        user.find(marker="plugins-button").click()
        table = marked(user, "plugins-table")
        assert any(row["label"] == PLUGIN_LABEL for row in table.rows)
        assert any(row["error"] and PLUGIN_ERROR in row["error"] for row in table.rows)

        for payload in PAYLOADS:
            assert_rendered_as_text(user, payload)
        await user.should_not_see(ui.html)
        await user.should_not_see(ui.markdown)
    finally:
        await service.aclose()


# API keys are masked: stored, printed, exported and logged never in clear

KEY = "sk-llamaburn-test-0123456789abcdef"


def db_bytes(db_url: str) -> bytes:
    """Every byte of the SQLite database, its write-ahead log and shared memory included."""
    path = db_url.removeprefix("sqlite:///")
    return b"".join(Path(name).read_bytes() for name in sorted(glob.glob(f"{path}*")))


def assert_no_key(*outputs: str | bytes) -> None:
    for output in outputs:
        data = output.encode() if isinstance(output, str) else output
        assert KEY.encode() not in data
        assert KEY[3:].encode() not in data  # nor the key without its prefix


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key_of_the_cli_is_sent_but_never_stored_printed_or_logged(
    how: str,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(Script(tokens=5)) as server:
        args = ["bench", "--backend", "openai", "--url", server.url, "--iterations", "2", "--warmup", "1", "--json"]
        if how == "flag":
            args += ["--api-key", KEY]
        else:
            monkeypatch.setenv("LLAMABURN_API_KEY", KEY)
        assert main(args) == 0
        bench = capsys.readouterr()
        server.script = Script(status=401, error_message="invalid api key")  # a failing run logs and reports more
        assert main([*args, "--model", DEFAULT_MODEL]) == 1
        failed = capsys.readouterr()
        chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
        assert chats and all(r.headers["authorization"] == f"Bearer {KEY}" for r in chats)
        listed = [r for r in server.requests if r.path == "/v1/models"]
        assert listed and all(r.headers["authorization"] == f"Bearer {KEY}" for r in listed)
    assert json.loads(bench.out)["config"]["api_key"] == "***"
    assert main(["history", "--json"]) == 0
    history = capsys.readouterr().out
    assert [run["config"]["api_key"] for run in json.loads(history)] == ["***", "***"]
    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    assert main(["export", "--format", "csv"]) == 0
    exported_csv = capsys.readouterr().out
    assert_no_key(
        bench.out,
        bench.err,
        failed.out,
        failed.err,
        history,
        exported,
        exported_csv,
        db_bytes(db_url),
        log_text(caplog),
    )
    assert "invalid api key" in failed.err  # the failure itself is reported


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    service = RunService(load_registry(), Store())
    app = FastAPI()
    app.state.runs = service
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://llamaburn.test") as client:
        yield client
    await service.aclose()


async def test_api_key_of_the_api_is_sent_but_never_answered_stored_or_logged(
    api: httpx.AsyncClient, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(Script(tokens=5)) as server:
        body = {"backend": "openai", "url": server.url, "api_key": KEY, "prompt": "hi", "iterations": 1, "warmup": 0}
        started = await api.post("/api/benchmark", json=body)
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        async with aconnect_sse(api, "GET", f"/api/benchmark/{run_id}/stream") as source:
            events = [sse.data async for sse in source.aiter_sse()]
        assert json.loads(events[-1])["type"] == "complete"
        again = await api.post("/api/benchmark", json=body)
        async with aconnect_sse(api, "GET", f"/api/benchmark/{again.json()['run_id']}/stream") as source:
            events += [sse.data async for sse in source.aiter_sse()]
        chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
        assert chats and all(r.headers["authorization"] == f"Bearer {KEY}" for r in chats)
    for _ in range(500):
        record = (await api.get(f"/api/history/{run_id}")).json()
        if record["status"] != "running":
            break
        await asyncio.sleep(0.01)
    assert record["config"]["api_key"] == "***"
    history = (await api.get("/api/history")).text
    assert_no_key(
        started.text, again.text, "".join(events), json.dumps(record), history, db_bytes(db_url), log_text(caplog)
    )


# Loopback by default; the LAN only with the token guard


@pytest.mark.parametrize("lan", [False, True])
def test_the_app_serves_loopback_unless_lan_and_then_only_behind_the_token(
    lan: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: dict[str, Any] = {}

    class App:  # what launch() asks of NiceGUI's app, recorded instead of served
        state = SimpleNamespace()
        openapi_schema = None

        def openapi(self) -> dict[str, Any]:
            return {}

        def on_shutdown(self, handler: Any) -> None:
            pass

        def include_router(self, router: Any) -> None:
            pass

        def add_middleware(self, middleware: Any, **options: Any) -> None:
            served["middleware"] = (middleware, options)

    monkeypatch.setattr(ui_app, "app", App())
    monkeypatch.setattr(ui_app, "ui", SimpleNamespace(run=lambda **options: served.update(run=options)))
    monkeypatch.setattr(ui_app, "register_pages", lambda service: None)
    monkeypatch.setattr(ui_app, "_json_404_under_api", lambda: None)
    monkeypatch.setenv(ui_app.TOKEN_ENV, TOKEN)
    ui_app.launch(ui_app.Launch(show=False, lan=lan))
    assert served["run"]["host"] == ("0.0.0.0" if lan else "127.0.0.1")
    assert served.get("middleware") == ((TokenAuth, {"token": TOKEN}) if lan else None)


# The LAN token: refused unless exactly right

TOKEN = "correct-horse-battery-staple"


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The guarded app: answers 200 to whatever reaches it."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"inside"})


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=TokenAuth(ok, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://lan.test") as client:
        yield client


def one_char_changed(token: str, index: int) -> str:
    return token[:index] + ("x" if token[index] != "x" else "y") + token[index + 1 :]


WRONG_TOKENS = {
    "same length, first char": one_char_changed(TOKEN, 0),
    "same length, middle char": one_char_changed(TOKEN, len(TOKEN) // 2),
    "same length, last char": one_char_changed(TOKEN, len(TOKEN) - 1),
    "same length, other case": TOKEN.upper(),
    "same length, non-ASCII": "é" * len(TOKEN),
    "empty": "",
    "a prefix": TOKEN[:-1],
    "one char longer": TOKEN + "x",
    "twice": TOKEN * 2,
    "very long": "a" * 10_000,
    "the session cookie's HMAC": hmac.new(TOKEN.encode(), b"llamaburn-session", hashlib.sha256).hexdigest(),
}


@pytest.mark.parametrize("wrong", list(WRONG_TOKENS.values()), ids=list(WRONG_TOKENS))
async def test_wrong_bearer_tokens_of_any_length_are_refused(guarded: httpx.AsyncClient, wrong: str) -> None:
    headers = {"Authorization": f"Bearer {wrong}".encode()}
    response = await guarded.get("/api/history", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.text != "inside"
    page = await guarded.get("/", headers=headers)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    login = await guarded.post("/login", data={"token": wrong})
    assert login.status_code in (401, 429) and COOKIE not in login.cookies


async def test_only_the_exact_token_or_its_session_cookie_opens(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/api/history", headers={"Authorization": f"Bearer {TOKEN}"})).text == "inside"
    for refused in ({"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}, {"X-Token": TOKEN}):
        assert (await guarded.get("/api/history", headers=refused)).status_code == 401
    assert (await guarded.get(f"/api/history?token={TOKEN}")).status_code == 401
    session = hmac.new(TOKEN.encode(), b"llamaburn-session", hashlib.sha256).hexdigest()
    for cookie in (TOKEN, one_char_changed(session, 10), session[:-1], ""):
        guarded.cookies.set(COOKIE, cookie)
        assert (await guarded.get("/api/history")).status_code == 401
    guarded.cookies.clear()
    login = await guarded.post("/login", data={"token": TOKEN})
    assert login.status_code == 303 and login.cookies[COOKIE] == session and TOKEN not in login.headers["set-cookie"]
    assert (await guarded.get("/api/history")).text == "inside"


async def test_a_websocket_is_closed_without_the_token_and_passes_with_it() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/_nicegui_ws/socket.io/", "headers": [], "query_string": b""}
    await TokenAuth(ok, TOKEN)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    authorized = {**scope, "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]}
    await TokenAuth(ok, TOKEN)(authorized, receive, send)
    assert sent == [{"type": "websocket.accept"}]


# No endpoint reads arbitrary files

PATH_LIKE_IDS = [
    "%2E%2E",  # ".." itself would be resolved away by the client before it is sent
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5C..%5Cwindows%5Cwin.ini",
    "file%3A%2F%2F%2Fetc%2Fpasswd",
    "%00",
    "etc%2Fpasswd%00",
    "~root",
]
SECRETS_ON_DISK = [Path("/etc/passwd"), Path("/etc/hostname")]


def assert_no_file_contents(response: httpx.Response) -> None:
    for path in SECRETS_ON_DISK:
        if path.exists():
            first = path.read_text(errors="replace").splitlines()[0].strip()
            assert not first or first not in response.text, path
    assert "root:x:0:0" not in response.text


@pytest.fixture
async def with_a_run(api: httpx.AsyncClient, db_url: str) -> httpx.AsyncClient:
    store = Store()
    store.create_run(
        RunRecord(
            id="7b4d2e8f-0000-4000-8000-000000000001",
            created_at=now(),
            modality="text",
            backend="ollama",
            model=DEFAULT_MODEL,
            status="completed",
        )
    )
    store.add_iteration(IterationRecord(run_id="7b4d2e8f-0000-4000-8000-000000000001", index=1, output="kept"))
    return api


@pytest.mark.parametrize("run_id", PATH_LIKE_IDS)
async def test_path_like_run_ids_are_404(with_a_run: httpx.AsyncClient, run_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = await with_a_run.request(method, f"/api/history/{run_id}")
        assert response.status_code in (404, 422), (method, run_id, response.status_code)
        assert_no_file_contents(response)
    assert (await with_a_run.get("/api/history")).json()["total"] == 1


@pytest.mark.parametrize("run_id", ["____", "%25%25%25%25", "7b4d%25", "7b4d____"])
async def test_wildcard_run_ids_name_no_run(with_a_run: httpx.AsyncClient, run_id: str) -> None:
    assert (await with_a_run.get(f"/api/history/{run_id}")).status_code == 404
    assert (await with_a_run.delete(f"/api/history/{run_id}")).status_code == 404
    assert (await with_a_run.get("/api/history")).json()["total"] == 1


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.mark.parametrize("model_id", [*PATH_LIKE_IDS, "..%2F..%2Fapi%2Ftags", "%2F..%2F..%2Fetc%2Fshadow"])
async def test_path_like_model_ids_are_404(api: httpx.AsyncClient, model_server: FakeServer, model_id: str) -> None:
    params = {"backend": "ollama", "url": model_server.url}
    response = await api.get(f"/api/models/{model_id}/info", params=params)
    assert response.status_code in (404, 422), (model_id, response.status_code, response.text)
    assert_no_file_contents(response)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/etc/passwd", "ftp://127.0.0.1/etc/passwd", "gopher://127.0.0.1:70/", "http://[::1"]
)
async def test_server_urls_that_are_not_http_are_422(api: httpx.AsyncClient, url: str) -> None:
    for path in ("/api/models", f"/api/models/{DEFAULT_MODEL}/info"):
        response = await api.get(path, params={"backend": "ollama", "url": url})
        assert response.status_code == 422, (path, url, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "url"]
        assert_no_file_contents(response)
    started = await api.post("/api/benchmark", json={"backend": "ollama", "url": url, "prompt": "hi"})
    assert started.status_code == 422 and started.json()["detail"][0]["loc"] == ["body", "url"]
