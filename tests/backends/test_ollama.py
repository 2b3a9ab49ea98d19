"""Ollama's backend: how it reads real NDJSON bodies (respx), and what it sends and what the server says
(the real-socket fake server); where ``OLLAMA_HOST`` points."""

from __future__ import annotations

import pytest
import respx

from llamaburn.backends.base import Chunk, Picture, ServerTimings
from llamaburn.backends.ollama import OllamaBackend, ollama_url
from llamaburn.errors import BackendError, ModelNotFoundError
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.backends.wire import (
    OLLAMA,
    ask,
    collect,
    ndjson,
    ollama_chunk,
    text,
)

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
        hello = Picture(b"hello", "image/png", 1, 1)
        chunks = await collect(backend, ask(temperature=0.2, max_tokens=5, seed=42, pictures=[hello]))
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
