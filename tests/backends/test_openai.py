"""The OpenAI-compatible backend: how it reads real SSE bodies (respx, llama.cpp's timings included), and
what it sends and what the server says (the real-socket fake server)."""

from __future__ import annotations

import httpx
import pytest
import respx

from llamaburn.backends.base import Chunk, Picture, ServerTimings
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.errors import BackendError
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.backends.wire import (
    OPENAI,
    ask,
    collect,
    openai_chunk,
    sse,
    text,
)

# OpenAI-compatible, reading real bodies


@respx.mock
async def test_openai_role_only_first_chunk_carries_no_text() -> None:
    # llama-cpp-python's shape: role first, one delta per token, empty finish delta, no usage.
    respx.post(f"{OPENAI}/v1/chat/completions").mock(side_effect=sse(
        openai_chunk({"role": "assistant"}), openai_chunk({"content": "Hel"}),
        openai_chunk({"content": "lo"}), openai_chunk({}, "stop"), "[DONE]",
    ))
    async with OpenAIBackend(OPENAI) as backend:
        chunks = await collect(backend)
    assert chunks[0] == Chunk()
    assert [c.content for c in chunks] == ["", "Hel", "lo", ""]
    assert all(c.timings is None for c in chunks)


@respx.mock
async def test_openai_stops_at_done_and_ignores_what_follows() -> None:
    respx.post(f"{OPENAI}/v1/chat/completions").mock(side_effect=sse(
        openai_chunk({"content": "ok"}), " [DONE] ", openai_chunk({"content": "ignored"}),
    ))
    async with OpenAIBackend(OPENAI) as backend:
        assert text(await collect(backend)) == "ok"


@respx.mock
async def test_openai_reads_reasoning_and_llamacpp_timings() -> None:
    respx.post(f"{OPENAI}/v1/chat/completions").mock(side_effect=sse(
        openai_chunk({"reasoning": "hmm"}), openai_chunk({"content": "42"}),
        openai_chunk({}, "stop", timings={"prompt_n": 9, "prompt_ms": 12.5, "predicted_n": 2,
                                          "predicted_ms": 40.25}),
        "[DONE]",
    ))
    async with OpenAIBackend(OPENAI) as backend:
        chunks = await collect(backend)
    assert chunks[0].thinking == "hmm"
    assert chunks[-1].timings == ServerTimings(output_tokens=2, eval_ns=40_250_000, prompt_tokens=9,
                                               prompt_eval_ns=12_500_000)


@respx.mock
async def test_openai_rejects_a_body_that_is_not_an_event_stream() -> None:
    respx.post(f"{OPENAI}/v1/chat/completions").mock(
        return_value=httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})
    )
    async with OpenAIBackend(OPENAI) as backend:
        with pytest.raises(BackendError, match="did not answer with an event stream"):
            await collect(backend)


# OpenAI-compatible, what it sends and what the server says


async def test_openai_sends_options_images_key_and_strips_v1(server: FakeServer) -> None:
    async with OpenAIBackend(f"{server.url}/v1/", api_key="sk-local") as backend:
        assert backend.url == server.url
        hello = Picture(b"hello", "image/png", 1, 1)
        await collect(backend, ask(temperature=0.0, max_tokens=3, seed=7, pictures=[hello]))
    received = server.requests[0]
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-local"
    assert received.body["stream_options"] == {"include_usage": True}
    assert (received.body["temperature"], received.body["max_tokens"], received.body["seed"]) == (0.0, 3, 7)
    assert received.body["messages"][0]["content"] == [
        {"type": "text", "text": "Why is the sky blue?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}},
    ]


async def test_openai_usage_gives_the_server_token_count(server: FakeServer) -> None:
    server.script = Script(tokens=7, thinking=2)
    async with OpenAIBackend(server.url) as backend:
        chunks = await collect(backend)
    # on a real socket: first the clock's start, the request handed to it; last the arrival of [DONE]
    marker, role, done = chunks[0], chunks[1], chunks[-1]
    assert marker.sent_at is not None and (marker.content, marker.thinking, marker.arrived_at) == ("", "", None)
    assert role.arrived_at is not None and role.arrived_at > marker.sent_at and not role.content
    assert done == Chunk(arrived_at=done.arrived_at) and done.arrived_at is not None
    arrivals = [c.arrived_at for c in chunks[1:]]
    assert arrivals == sorted(arrivals)
    assert "".join(c.thinking for c in chunks) == "h0 h1 "
    assert text(chunks) == "t0 t1 t2 t3 t4 t5 t6 "
    assert chunks[-2].timings == ServerTimings(output_tokens=9, prompt_tokens=12)


async def test_openai_without_usage_leaves_counts_unknown(server: FakeServer) -> None:
    server.script = Script(tokens=3, send_usage=False)
    async with OpenAIBackend(server.url) as backend:
        chunks = await collect(backend)
    assert text(chunks) == "t0 t1 t2 "
    assert all(c.timings is None for c in chunks)


async def test_openai_error_object_mid_stream(server: FakeServer) -> None:
    server.script = Script(error_after=1, error_message="context length exceeded")
    async with OpenAIBackend(server.url) as backend:
        with pytest.raises(BackendError, match="mid-stream: context length exceeded"):
            await collect(backend)


async def test_openai_lists_models(server: FakeServer) -> None:
    async with OpenAIBackend(server.url) as backend:
        models = await backend.models()
        assert await backend.version() is None
    assert [(m.id, m.details) for m in models] == [(DEFAULT_MODEL, {"owned_by": "llamaburn"})]
