"""Failures both backends must turn into one actionable line: an unknown model, HTTP errors, refused and
dropped connections, a stream without its end, a malformed line, a stall beyond the read timeout."""

from __future__ import annotations

import pytest

from llamaburn.backends.base import Backend, Chunk
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.errors import BackendError, ModelNotFoundError
from llamaburn.testing import FakeServer, Script
from tests.backends.wire import (
    BACKENDS,
    ask,
    collect,
    text,
)
from tests.system import free_port

# Failures both backends must turn into one actionable line


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_unknown_model_is_model_not_found(server: FakeServer, backend_cls: type[Backend]) -> None:
    async with backend_cls(server.url) as backend:
        with pytest.raises(ModelNotFoundError, match="'ghost:7b' not found"):
            await collect(backend, ask(model="ghost:7b"))


@pytest.mark.parametrize("backend_cls", BACKENDS)
@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_names_the_status(
    server: FakeServer, backend_cls: type[Backend], status: int
) -> None:
    server.script = Script(status=status, error_message="llama runner process has terminated")
    async with backend_cls(server.url) as backend:
        with pytest.raises(BackendError, match=f"HTTP {status}: llama runner process has terminated$"):
            await collect(backend)


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_rate_limit_mentions_retry_after(server: FakeServer, backend_cls: type[Backend]) -> None:
    server.script = Script(status=429, retry_after=7, error_message="server busy")
    async with backend_cls(server.url) as backend:
        with pytest.raises(BackendError, match=r"HTTP 429: server busy \(retry after 7 s\)"):
            await collect(backend)


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_connection_refused_is_one_line_naming_the_url(backend_cls: type[Backend]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with backend_cls(url) as backend:
        for attempt in (collect(backend), backend.models()):
            with pytest.raises(BackendError) as caught:
                await attempt
            message = str(caught.value)
            assert f"at {url} is not reachable" in message and "\n" not in message


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_dropped_connection_mid_stream(server: FakeServer, backend_cls: type[Backend]) -> None:
    server.script = Script(drop_after=3)
    received: list[Chunk] = []
    async with backend_cls(server.url) as backend:
        with pytest.raises(BackendError, match="closed the connection mid-stream"):
            await collect(backend, into=received)
    assert text(received) == "t0 t1 t2 "


@pytest.mark.parametrize(("backend_cls", "complaint"), [
    (OllamaBackend, "without its final \\(done\\) chunk"), (OpenAIBackend, "without \\[DONE\\]"),
])
async def test_stream_without_done(server: FakeServer, backend_cls: type[Backend], complaint: str) -> None:
    server.script = Script(tokens=4, no_done=True)
    received: list[Chunk] = []
    async with backend_cls(server.url) as backend:
        with pytest.raises(BackendError, match=complaint):
            await collect(backend, into=received)
    assert text(received) == "t0 t1 t2 t3 "


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_malformed_line(server: FakeServer, backend_cls: type[Backend]) -> None:
    server.script = Script(malformed_after=1)
    async with backend_cls(server.url) as backend:
        with pytest.raises(BackendError, match="sent malformed JSON"):
            await collect(backend)


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_stalled_server_hits_the_read_timeout(server: FakeServer, backend_cls: type[Backend]) -> None:
    server.script = Script(stall_after=1, stall_s=5)
    received: list[Chunk] = []
    async with backend_cls(server.url, read_timeout=0.3) as backend:
        with pytest.raises(BackendError, match=r"sent nothing for 0.3 s \(the read timeout\)"):
            await collect(backend, into=received)
    assert "t0 " in text(received)
