"""Neighbours of the matrix: what a server says besides its chat stream (a captive portal where Hugging Face
should be, absurd counts), and a summary that cannot be made. Each run still ends, and is stored."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import respx

from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.registry import Registry
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, OLLAMA_VERSION
from tests.faults.matrix import (
    ANSWER,
    api_succeeds,
    cli_succeeds,
    measure,
    stored_iterations,
)
from tests.harness.api import Api
from tests.harness.servers import Server

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
    assert (record.status, record.error) == ("failed", run.error)
    assert stored_iterations(store, run.id) == [(False, 1, ANSWER)]
