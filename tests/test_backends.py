"""Backends against the wire: respx-mocked bodies copied from real servers, and the real-socket FakeServer.

respx checks how a backend reads exact bytes; FakeServer checks what it sends, its error paths over real
TCP (refused, dropped, stalled), keep-alive, and timing through ``measure_stream``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from llamaburn.backends.base import Backend, ChatRequest, Chunk, ServerTimings
from llamaburn.backends.ollama import OllamaBackend, ollama_url
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream
from llamaburn.errors import BackendError, ConfigError, ModelNotFoundError
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

OLLAMA = "http://ollama.test:11434"
OPENAI = "http://llamacpp.test:8080"
BACKENDS = [OllamaBackend, OpenAIBackend]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


def ask(**fields: Any) -> ChatRequest:
    return ChatRequest(model=fields.pop("model", DEFAULT_MODEL), prompt="Why is the sky blue?", **fields)


async def collect(
    backend: Backend, request: ChatRequest | None = None, into: list[Chunk] | None = None
) -> list[Chunk]:
    """Every chunk of one answer; ``into`` keeps the ones received before an error."""
    chunks = [] if into is None else into
    async for chunk in backend.stream_chat(request or ask()):
        chunks.append(chunk)
    return chunks


def text(chunks: list[Chunk]) -> str:
    return "".join(chunk.content for chunk in chunks)


def streamed(content_type: str, body: list[bytes]) -> Any:
    """A respx side effect answering with ``body`` as a stream; each call gets a fresh generator."""

    async def chunks() -> AsyncIterator[bytes]:
        for piece in body:
            yield piece

    return lambda request: httpx.Response(200, headers={"content-type": content_type}, content=chunks())


def ndjson(*objects: dict[str, Any]) -> Any:
    return streamed("application/x-ndjson", [json.dumps(o).encode() + b"\n" for o in objects])


def sse(*events: dict[str, Any] | str) -> Any:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]
    return streamed("text/event-stream; charset=utf-8", lines)


def ollama_chunk(content: str = "", done: bool = False, **extra: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, **extra.pop("message", {})}
    return {"model": "qwen3:0.6b", "created_at": "2025-06-01T10:00:00.5Z", "message": message, "done": done,
            **extra}


def openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1748772000, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Ollama, reading real bodies


@respx.mock
async def test_ollama_final_chunk_timings_are_nanoseconds() -> None:
    final = ollama_chunk(done=True, done_reason="stop", total_duration=1_520_000_000,
                         load_duration=20_000_000, prompt_eval_count=26, prompt_eval_duration=130_000_000,
                         eval_count=290, eval_duration=1_350_000_000)
    body = ndjson(ollama_chunk("The"), ollama_chunk(" sky"), final)
    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=body)
    async with OllamaBackend(OLLAMA) as backend:
        chunks = await collect(backend)
    assert text(chunks) == "The sky"
    assert [c.timings for c in chunks[:-1]] == [None, None]
    assert chunks[-1].timings == ServerTimings(output_tokens=290, eval_ns=1_350_000_000, prompt_tokens=26,
                                               prompt_eval_ns=130_000_000, load_ns=20_000_000,
                                               total_ns=1_520_000_000)


@respx.mock
async def test_ollama_omitted_timings_are_unknown_not_zero() -> None:
    # A prompt-cache hit on a loaded model: Ollama omits the zero load and prompt fields.
    final = ollama_chunk(done=True, done_reason="stop", total_duration=900_000_000, eval_count=40,
                         eval_duration=800_000_000)
    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=ndjson(ollama_chunk("Hi"), final))
    async with OllamaBackend(OLLAMA) as backend:
        timings = (await collect(backend))[-1].timings
    assert timings == ServerTimings(output_tokens=40, eval_ns=800_000_000, total_ns=900_000_000)
    assert timings.load_ns is None and timings.prompt_tokens is None and timings.prompt_eval_ns is None


@respx.mock
async def test_ollama_thinking_is_kept_apart_from_content() -> None:
    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=ndjson(
        ollama_chunk(message={"thinking": "Rayleigh"}), ollama_chunk(message={"thinking": " scattering"}),
        ollama_chunk("Blue light scatters."), ollama_chunk(done=True, eval_count=4, eval_duration=4),
    ))
    async with OllamaBackend(OLLAMA) as backend:
        chunks = await collect(backend)
    assert "".join(c.thinking for c in chunks) == "Rayleigh scattering"
    assert text(chunks) == "Blue light scatters."
    assert chunks[0] == Chunk(thinking="Rayleigh")


# Ollama, what it sends and what the server says


async def test_ollama_maps_options_and_sends_images(server: FakeServer) -> None:
    async with OllamaBackend(server.url) as backend:
        chunks = await collect(backend, ask(temperature=0.2, max_tokens=5, seed=42, images=["aGVsbG8="]))
        await collect(backend)
    sent, plain = server.requests[0].body, server.requests[1].body
    assert sent["options"] == {"temperature": 0.2, "num_predict": 5, "seed": 42}
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "Why is the sky blue?", "images": ["aGVsbG8="]}]
    assert chunks[-1].timings is not None and chunks[-1].timings.output_tokens == 5
    assert plain["options"] == {} and "images" not in plain["messages"][0]


async def test_ollama_lists_models_and_describes_them(server: FakeServer) -> None:
    async with OllamaBackend(server.url) as backend:
        models = await backend.models()
        shown = await backend.show(DEFAULT_MODEL)
        version = await backend.version()
        with pytest.raises(ModelNotFoundError, match="'nope'"):
            await backend.show("nope")
    assert [m.id for m in models] == [DEFAULT_MODEL]
    assert models[0].size_bytes == 1_300_000_000 and models[0].details["quantization_level"] == "Q4_K_M"
    assert shown["model_info"]["general.architecture"] == "llama"
    assert version == "0.12.3"


async def test_ollama_error_object_mid_stream(server: FakeServer) -> None:
    server.script = Script(error_after=2, error_message="CUDA error: out of memory")
    received: list[Chunk] = []
    async with OllamaBackend(server.url) as backend:
        with pytest.raises(BackendError, match="mid-stream: CUDA error: out of memory"):
            await collect(backend, into=received)
    assert text(received) == "t0 t1 "


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:11435", "http://127.0.0.1:11435"),
        ("gpu-box:8000", "http://gpu-box:8000"),
        ("http://h:1234", "http://h:1234"),
        ("http://h:1234/", "http://h:1234"),
        ("  ", "http://127.0.0.1:11434"),
        ("[::1]:11434", "http://[::1]:11434"),
    ],
)
def test_ollama_url_from_ollama_host_forms(host: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert ollama_url(host) == url


def test_ollama_url_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:9999")
    assert ollama_url() == ollama_url("") == "http://127.0.0.1:9999"
    monkeypatch.delenv("OLLAMA_HOST")
    assert ollama_url() == "http://127.0.0.1:11434"


def test_ollama_url_https_without_port_uses_443() -> None:
    assert ollama_url("https://ollama.example.com") == "https://ollama.example.com:443"


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
        await collect(backend, ask(temperature=0.0, max_tokens=3, seed=7, images=["aGVsbG8="]))
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
    assert chunks[0] == Chunk()
    assert "".join(c.thinking for c in chunks) == "h0 h1 "
    assert text(chunks) == "t0 t1 t2 t3 t4 t5 t6 "
    assert chunks[-1].timings == ServerTimings(output_tokens=9, prompt_tokens=12)


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


@respx.mock
@pytest.mark.parametrize("line", [b"null\n", b"[1, 2]\n", b'"text"\n'])
async def test_json_that_is_not_an_object_is_a_protocol_error(line: bytes) -> None:
    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=streamed("application/x-ndjson", [line]))
    backend = OllamaBackend(OLLAMA)
    try:
        with pytest.raises(BackendError, match="sent malformed JSON"):
            await collect(backend)
    finally:
        await backend.aclose()


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



# Replies of the wrong shape: one line that says which field is wrong, never a TypeError


@respx.mock
@pytest.mark.parametrize(
    ("chunk", "complaint"),
    [
        ({"message": "Hello", "done": False}, "a chunk whose 'message' is a string, not an object"),
        ({"message": {"content": 5}, "done": False}, "a message whose 'content' is a number, not a string"),
        (ollama_chunk("a", done=True, eval_count="12"), "a final chunk whose 'eval_count' is a string, not a number"),
        ({"message": {"content": "a"}, "done": "yes"}, "a chunk whose 'done' is a string, not a boolean"),
    ],
)
async def test_ollama_chunk_fields_of_the_wrong_type_are_named(chunk: dict[str, Any], complaint: str) -> None:
    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=ndjson(chunk))
    async with OllamaBackend(OLLAMA) as backend:
        with pytest.raises(BackendError) as raised:
            await collect(backend)
    assert str(raised.value) == f"Ollama at {OLLAMA} sent {complaint}"


@respx.mock
@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ({"choices": "abc"}, "a chunk whose 'choices' is a string, not a list"),
        ({"choices": [5]}, "a chunk whose first choice is 5, not an object"),
        ({"choices": [{"delta": {"content": ["a"]}}]}, "a delta whose 'content' is a list, not a string"),
        ({"choices": [], "usage": [1, 2]}, "a chunk whose 'usage' is a list, not an object"),
        ({"choices": [], "timings": {"predicted_ms": "12"}}, "timings whose 'predicted_ms' is a string, not a number"),
    ],
)
async def test_openai_chunk_fields_of_the_wrong_type_are_named(event: dict[str, Any], complaint: str) -> None:
    respx.post(f"{OPENAI}/v1/chat/completions").mock(side_effect=sse(event, "[DONE]"))
    async with OpenAIBackend(OPENAI) as backend:
        with pytest.raises(BackendError) as raised:
            await collect(backend)
    assert str(raised.value) == f"OpenAI-compatible server at {OPENAI} sent {complaint}"


@respx.mock
async def test_server_numbers_out_of_range_are_left_for_the_metrics_to_drop() -> None:
    timings = {"predicted_ms": float("nan"), "predicted_n": 10**400}  # NaN, and an integer beyond the float range
    body = sse(openai_chunk({"content": "Hi"}), {"choices": [], "timings": timings}, "[DONE]")
    respx.post(f"{OPENAI}/v1/chat/completions").mock(side_effect=body)
    async with OpenAIBackend(OPENAI) as backend:
        metrics = await measure_stream(backend.stream_chat(ask()), lambda _: None)
    assert metrics["server_tps"] is None and metrics["token_count_source"] == "chunks"


@respx.mock
@pytest.mark.parametrize("backend_cls", BACKENDS)
async def test_an_html_error_page_is_one_line_of_at_most_200_characters(backend_cls: type[Backend]) -> None:
    page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\n" + "<p>proxy</p>\n" * 50 + "</html>"
    url = OLLAMA if backend_cls is OllamaBackend else OPENAI
    respx.route(method="POST").mock(return_value=httpx.Response(502, text=page))
    async with backend_cls(url) as backend:
        with pytest.raises(BackendError) as raised:
            await collect(backend)
    message = str(raised.value).removeprefix(f"{backend.label} at {url} answered HTTP 502: ")
    assert message.startswith("<html> <head><title>502 Bad Gateway</title></head> <body> <p>proxy</p> <p>")
    assert len(message) == 200 and message.endswith("...") and "\n" not in str(raised.value)


@respx.mock
@pytest.mark.parametrize(
    ("backend_cls", "body", "complaint"),
    [
        (OllamaBackend, {}, "a model list without its 'models' list"),
        (OllamaBackend, {"models": None}, "a model list without its 'models' list"),
        (OllamaBackend, {"models": {"a": 1}}, "a model list whose 'models' is an object, not a list"),
        (OllamaBackend, {"models": [{"model": "m"}]}, "a model list entry without a name: {'model': 'm'}"),
        (OpenAIBackend, {"data": [5]}, "a model list whose entry is not an object: 5"),
        (OpenAIBackend, {"data": [{"id": 7}]}, "a model list entry whose 'id' is a number, not a string"),
    ],
)
async def test_model_lists_of_the_wrong_shape_are_named(
    backend_cls: type[Backend], body: dict[str, Any], complaint: str
) -> None:
    url, path = (OLLAMA, "/api/tags") if backend_cls is OllamaBackend else (OPENAI, "/v1/models")
    respx.get(f"{url}{path}").mock(return_value=httpx.Response(200, json=body))
    async with backend_cls(url) as backend:
        with pytest.raises(BackendError) as raised:
            await backend.models()
    assert str(raised.value) == f"{backend.label} at {url} sent {complaint}"
