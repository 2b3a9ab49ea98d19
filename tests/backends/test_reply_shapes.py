"""Replies of the wrong shape: one line that says which field is wrong, never a ``TypeError``; JSON that
is not an object, numbers out of range, an HTML error page, model lists of the wrong shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream
from llamaburn.errors import BackendError
from tests.backends.wire import (
    BACKENDS,
    OLLAMA,
    OPENAI,
    ask,
    collect,
    ndjson,
    ollama_chunk,
    openai_chunk,
    sse,
    streamed,
)

# Replies of the wrong shape: one line that says which field is wrong, never a TypeError


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
