"""The stream parsers (Ollama NDJSON, OpenAI SSE) and the error and model-list readers, fed any bytes, any
JSON and any shape: metrics or models, or one line of ``BackendError``, nothing else."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx
import pytest
import respx
from hypothesis import example, given
from hypothesis import strategies as st

from llamaburn.backends.base import Backend
from llamaburn.errors import BackendError
from tests.properties.streams import (
    JSON_VALUES,
    MODEL_LISTS,
    OLLAMA_ANY_SHAPE,
    OLLAMA_WELL_TYPED,
    OPENAI_ANY_SHAPE,
    OPENAI_WELL_TYPED,
    PROPERTY,
    SSE_LINES,
    URL,
    VALID_NDJSON_LINES,
    assert_one_line,
    assert_sane_metrics,
    ndjson,
    sse,
    stream,
)

# The stream parsers


@PROPERTY
@given(body=st.lists(st.binary(max_size=48) | st.sampled_from(VALID_NDJSON_LINES), max_size=10))
def test_ndjson_bytes_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], body: list[bytes]
) -> None:
    result = stream(runner, backends["ollama"], "ollama", body)
    if isinstance(result, BackendError):
        assert_one_line(result)
    else:
        assert_sane_metrics(result)


@PROPERTY
@given(objects=OLLAMA_WELL_TYPED)
def test_well_typed_ndjson_chunks_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], objects: list[dict[str, Any]]
) -> None:
    result = stream(runner, backends["ollama"], "ollama", ndjson(objects))
    if isinstance(result, BackendError):
        assert_one_line(result)
    else:
        assert_sane_metrics(result)
        assert result["output_tokens"] >= 1


@PROPERTY
@given(body=st.lists(st.binary(max_size=48) | st.sampled_from(SSE_LINES) | st.text(max_size=24).map(str.encode),
                     max_size=10))
def test_sse_bytes_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], body: list[bytes]
) -> None:
    result = stream(runner, backends["openai"], "openai", body)
    if isinstance(result, BackendError):
        assert_one_line(result)
    else:
        assert_sane_metrics(result)


@PROPERTY
@given(events=OPENAI_WELL_TYPED)
def test_well_typed_sse_chunks_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], events: list[Any]
) -> None:
    result = stream(runner, backends["openai"], "openai", sse(events))
    if isinstance(result, BackendError):
        assert_one_line(result)
    else:
        assert_sane_metrics(result)


@PROPERTY
@given(objects=OLLAMA_ANY_SHAPE)
@example(objects=[{"message": "Hello"}])
@example(objects=[{"message": {"content": 5}}])
@example(objects=[{"message": {"content": "a"}, "done": True, "eval_count": "12"}])
@example(objects=[{"message": {"content": "a"}, "done": True, "eval_count": 3, "eval_duration": math.nan}])
def test_ndjson_chunks_of_any_shape_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], objects: list[dict[str, Any]]
) -> None:
    result = stream(runner, backends["ollama"], "ollama", ndjson(objects))
    if not isinstance(result, BackendError):
        assert_sane_metrics(result)


@PROPERTY
@given(events=OPENAI_ANY_SHAPE)
@example(events=[{"choices": [5]}])
@example(events=[{"choices": "abc"}])
@example(events=[{"usage": [1, 2]}])
@example(events=[{"timings": {"predicted_ms": "12"}}])
@example(events=[{"timings": {"predicted_ms": math.nan}}])
def test_sse_chunks_of_any_shape_give_metrics_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], events: list[Any]
) -> None:
    result = stream(runner, backends["openai"], "openai", sse(events))
    if not isinstance(result, BackendError):
        assert_sane_metrics(result)


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
@pytest.mark.parametrize("line", ["[" * 100_000, '{"done": true, "eval_count": ' + "9" * 5000 + "}"],
                         ids=["deeply-nested", "huge-integer"])
def test_pathological_json_lines_are_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], protocol: str, line: str
) -> None:
    body = [f"{line}\n".encode()] if protocol == "ollama" else [f"data: {line}\n\n".encode()]
    assert isinstance(stream(runner, backends[protocol], protocol, body), BackendError)
    assert isinstance(refusal(backends[protocol], 500, line.encode()), BackendError)  # as an error body too


def refusal(backend: Backend, status: int, body: bytes) -> Exception:
    """What ``raise_for_status`` makes of an HTTP error answer (status and body from the server)."""
    try:
        backend.raise_for_status(httpx.Response(status, content=body), model="m")
    except Exception as exc:  # the property: only BackendError
        return exc
    raise AssertionError("an HTTP error was not raised")


@PROPERTY
@given(status=st.integers(400, 599), body=st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_http_error_answers_are_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], status: int, body: bytes
) -> None:
    for backend in backends.values():
        error = refusal(backend, status, body)
        assert isinstance(error, BackendError), repr(error)
        assert f"HTTP {status}" in str(error) if status != 404 else "model 'm' not found on" in str(error)


NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
             b"</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n")


@PROPERTY
@given(status=st.integers(400, 599), body=st.text(max_size=64).map(str.encode))
@example(status=502, body=NGINX_502)
def test_http_error_messages_are_one_line(
    runner: asyncio.Runner, backends: dict[str, Backend], status: int, body: bytes
) -> None:
    for backend in backends.values():
        error = refusal(backend, status, body)
        assert isinstance(error, BackendError)
        assert_one_line(error)


@PROPERTY
@given(protocol=st.sampled_from(["ollama", "openai"]), message=st.text(min_size=1, max_size=24))
@example(protocol="ollama", message="llama runner process has terminated: exit status 2\nerror loading model")
@example(protocol="openai", message="CUDA error: out of memory\r\ncurrent device: 0")
def test_mid_stream_error_messages_are_one_line(
    runner: asyncio.Runner, backends: dict[str, Backend], protocol: str, message: str
) -> None:
    body = ndjson([{"error": message}]) if protocol == "ollama" else sse([{"error": {"message": message}}])
    error = stream(runner, backends[protocol], protocol, body)
    assert isinstance(error, BackendError)
    assert_one_line(error)


@PROPERTY
@given(protocol=st.sampled_from(["ollama", "openai"]), data=JSON_VALUES)
@example(protocol="ollama", data={"models": [{"model": "llama3.2:1b"}]})
@example(protocol="ollama", data={"models": None})
@example(protocol="openai", data={"data": [{"name": "llama3.2:1b"}]})
@example(protocol="openai", data={"data": [5]})
def test_model_lists_of_any_shape_give_models_or_a_backend_error(
    runner: asyncio.Runner, backends: dict[str, Backend], protocol: str, data: Any
) -> None:
    async def models() -> Any:
        with respx.mock(base_url=URL, assert_all_called=False) as mock:
            mock.get(MODEL_LISTS[protocol]).mock(return_value=httpx.Response(200, text=json.dumps(data)))
            try:
                return await backends[protocol].models()
            except BackendError as exc:
                return exc

    result = runner.run(models())
    assert isinstance(result, BackendError) or all(isinstance(entry.id, str) for entry in result)
