"""A request the server dropped unanswered on a reused keep-alive connection is sent once more on a fresh
connection, timed from the resend, and marked; the run goes on (llama-server's keep-alive trap)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.proxy import HangupProxy

TTFT_S = 0.05
HANGUP_DELAY_S = 0.3  # the dead attempt's time: far above TTFT, so counting it would show


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=5, ttft_s=TTFT_S, tokens_per_s=200)) as fake:
        yield fake


def text_run(backend: Backend, iterations: int) -> Run:
    modality = load_registry().modality("text")
    # Warm: only chat requests go over the connection (a cold run first asks an OpenAI server for /props).
    inputs = modality.parse_inputs({"iterations": iterations, "warmup": 0, "cache_mode": "warm"})
    return Run(modality, inputs, Target(backend, DEFAULT_MODEL))


@pytest.mark.parametrize("kind", [OllamaBackend, OpenAIBackend])
async def test_a_request_dropped_unanswered_is_sent_again_and_timed_from_the_resend(
    server: FakeServer, kind: type[Backend]
) -> None:
    with HangupProxy(server.url, hangups=2, hangup_delay_s=HANGUP_DELAY_S) as proxy:
        backend = kind(proxy.url)
        run = await text_run(backend, iterations=4).execute()
        await backend.aclose()
    assert run.status == "completed", run.error
    assert proxy.hung_up == 2
    assert [m["reconnects"] for m in run.iterations] == [0, 1, 1, 0]
    assert run.reconnects == 2
    assert len([r for r in server.requests if r.method == "POST"]) == 4  # the dead attempts never arrived
    assert proxy.connections == 3  # one fresh connection per resend
    for metrics in run.iterations:
        assert TTFT_S * 1000 <= metrics["ttft_ms"] < (TTFT_S + HANGUP_DELAY_S / 2) * 1000
        assert metrics["total_ms"] < HANGUP_DELAY_S * 1000


async def test_a_resend_that_is_dropped_too_fails_the_run_with_the_servers_message(server: FakeServer) -> None:
    with HangupProxy(server.url, hangups=2, reused_only=False) as proxy:
        backend = OpenAIBackend(proxy.url)
        run = await text_run(backend, iterations=1).execute()
        await backend.aclose()
    assert run.status == "failed"
    assert "closed the connection" in (run.error or "")
    assert proxy.hung_up == 2  # sent once more, never a third time
    assert not [r for r in server.requests if r.method == "POST"]


async def test_a_props_request_dropped_unanswered_is_asked_again() -> None:
    with FakeServer(Script(tokens=3, llama_cpp=True)) as fake, HangupProxy(fake.url) as proxy:
        backend = OpenAIBackend(proxy.url)
        await backend.models()  # the connection's first request: the next one is on a reused connection
        proxy.hangups = 1
        modality = load_registry().modality("text")
        inputs = modality.parse_inputs({"iterations": 1, "warmup": 0, "cache_mode": "cold"})
        run = await Run(modality, inputs, Target(backend, DEFAULT_MODEL)).execute()
        await backend.aclose()
    assert proxy.hung_up == 1
    assert run.status == "completed", run.error
    assert run.iterations[0]["cache_method"] == "cache_prompt"  # /props answered on the second asking
