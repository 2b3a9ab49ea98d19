"""Connections and timing: one keep-alive connection across requests and iterations, ``measure_stream``
at the fake server's exact pace, and which URLs a backend accepts."""

from __future__ import annotations

import pytest

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream
from llamaburn.errors import ConfigError
from llamaburn.testing import FakeServer, Script
from tests.backends.wire import (
    BACKENDS,
    ask,
    collect,
    text,
)

# Connection reuse and timing through measure_stream


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_plain_requests_reuse_one_connection(server: FakeServer, backend_cls: type[Backend]) -> None:
    async with backend_cls(server.url) as backend:
        for _ in range(3):
            await backend.models()
    assert len(server.requests) == 3 and server.connections == 1


@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_streamed_iterations_reuse_one_connection(
    server: FakeServer, backend_cls: type[Backend]
) -> None:
    async with backend_cls(server.url) as backend:
        for _ in range(3):
            assert text(await collect(backend)).startswith("t0 ")
    assert len(server.requests) == 3
    assert server.connections == 1


@pytest.mark.parametrize(("backend_cls", "source"), [(OllamaBackend, "server"), (OpenAIBackend, "chunks")])
async def test_measure_stream_matches_the_scripted_pace(
    server: FakeServer, backend_cls: type[Backend], source: str
) -> None:
    server.script = Script(tokens=30, ttft_s=0.05, tokens_per_s=200, send_usage=False)
    shown: list[str] = []
    async with backend_cls(server.url) as backend:
        await backend.models()  # connect first, as a warm-up iteration would: TTFT is the server's, not TCP's
        metrics = await measure_stream(backend.stream_chat(ask()), shown.append)
    assert len(shown) == 30
    assert metrics["output_tokens"] == 30 and metrics["token_count_source"] == source
    assert metrics["tps"] == pytest.approx(200, rel=0.10)
    assert metrics["ttft_ms"] == pytest.approx(50, abs=30)
    if source == "server":
        assert metrics["server_tps"] == pytest.approx(200)


@pytest.mark.parametrize("url", ["http://[::1", "ftp://models.local", "http://" + "a" * 70 + ".com"])
@pytest.mark.parametrize("backend_cls", BACKENDS)
def test_unusable_url_is_a_one_line_config_error(backend_cls: type[Backend], url: str) -> None:
    with pytest.raises(ConfigError, match="not a usable"):
        backend_cls(url)


async def test_openai_accepts_host_and_port_as_typed() -> None:
    backend = OpenAIBackend("127.0.0.1:1234/v1")
    try:
        assert backend.url == "http://127.0.0.1:1234"
    finally:
        await backend.aclose()
