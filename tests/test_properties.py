"""Property tests (hypothesis): no bytes a model server sends, no inputs a user types and no numbers a run
stores make LlamaBurn fail with anything but its own one-line errors.

- The stream parsers (Ollama NDJSON, OpenAI SSE), fed through respx-mocked HTTP streams into
  ``Backend.stream_chat`` and on through ``measure_stream``, as a run does: they return metrics or raise
  ``BackendError``, nothing else.
- The text modality's input validation (``Modality.parse_inputs``): ``ConfigError`` or valid inputs.
- ``metrics.summarize``, ``metrics.stream_metrics`` and ``compare.compare`` with zero, missing, NaN and
  infinite values: no exception, no NaN out.

Each property runs at most ``EXAMPLES`` (or 200) generated examples with no deadline. The properties over
inputs of any shape (chunks, model lists, floats near the maximum, multi-line server text) are also pinned
with ``@example``s of the inputs that once broke them (docs/reliability.md lists the fixed bugs), so each
of those bugs is checked on every run, whatever hypothesis happens to generate.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llamaburn.backends.base import Backend, ChatRequest, ServerTimings
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import STATS, measure_stream, stream_metrics, summarize
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import load_registry
from llamaburn.errors import BackendError, ConfigError
from llamaburn.service.compare import compare, compared
from llamaburn.storage.store import RunRecord

EXAMPLES = 150
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URL = "http://127.0.0.1:11434"
CHAT = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}
CONTENT_TYPES = {"ollama": "application/x-ndjson", "openai": "text/event-stream"}
MODEL_LISTS = {"ollama": "/api/tags", "openai": "/v1/models"}


# One event loop and one backend per protocol for the module: an httpx client per example would cost more
# than the example itself.


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="module")
def backends(runner: asyncio.Runner) -> Iterator[dict[str, Backend]]:
    made: dict[str, Backend] = {"ollama": OllamaBackend(URL), "openai": OpenAIBackend(URL)}
    yield made
    for backend in made.values():
        runner.run(backend.aclose())


def stream(runner: asyncio.Runner, backend: Backend, protocol: str, body: list[bytes]) -> dict[str, Any] | BackendError:
    """Stream ``body`` (HTTP body pieces) to ``backend`` and measure it as a run does; a BackendError is an answer."""

    async def pieces() -> AsyncIterator[bytes]:
        for piece in body:
            yield piece

    async def measure() -> dict[str, Any] | BackendError:
        with respx.mock(base_url=URL, assert_all_called=False) as mock:
            mock.post(CHAT[protocol]).mock(
                side_effect=lambda request: httpx.Response(
                    200, headers={"content-type": CONTENT_TYPES[protocol]}, content=pieces()
                )
            )
            try:
                return await measure_stream(backend.stream_chat(ChatRequest(model="m", prompt="p")), lambda _: None)
            except BackendError as exc:
                return exc

    return runner.run(measure())


def assert_sane_metrics(metrics: dict[str, Any]) -> None:
    for name, value in metrics.items():
        if isinstance(value, float):
            assert math.isfinite(value) and value >= 0, (name, value)


def assert_one_line(error: BackendError) -> None:
    assert str(error) and "\n" not in str(error) and "\r" not in str(error), str(error)


# Strategies

SCALARS = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=12)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
COUNTS = st.none() | st.integers(0, 2**40)  # what a server reports: token counts and nanosecond durations
TEXT = st.text(max_size=16)
ONE_LINE = st.text(st.characters(blacklist_characters="\r\n"), max_size=16)  # a multi-line one: see below


def ndjson(objects: list[Any]) -> list[bytes]:
    return [json.dumps(obj).encode() + b"\n" for obj in objects]  # NaN and Infinity as Python writes them


def sse(events: list[Any]) -> list[bytes]:
    return [(f"data: {e}\n\n" if isinstance(e, str) else f"data: {json.dumps(e)}\n\n").encode() for e in events]


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


OLLAMA_TOKEN = st.builds(
    lambda content, thinking: {"message": _present(role="assistant", content=content, thinking=thinking or None),
                               "done": False},
    TEXT, TEXT,
)
OLLAMA_FINAL = st.builds(
    lambda **timings: {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                       **_present(**timings)},
    eval_count=COUNTS, eval_duration=COUNTS, prompt_eval_count=COUNTS, prompt_eval_duration=COUNTS,
    load_duration=COUNTS, total_duration=COUNTS,
)
OLLAMA_ERROR = st.builds(lambda message: {"error": message}, ONE_LINE)
OLLAMA_WELL_TYPED = st.lists(st.one_of(OLLAMA_TOKEN, OLLAMA_TOKEN, OLLAMA_FINAL, OLLAMA_ERROR), max_size=8)

OLLAMA_FIELDS = ("message", "done", "error", "eval_count", "eval_duration", "prompt_eval_count",
                 "prompt_eval_duration", "load_duration", "total_duration")
OLLAMA_ANY_SHAPE = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            **dict.fromkeys(OLLAMA_FIELDS, JSON_VALUES),
            "message": JSON_VALUES | st.fixed_dictionaries({}, optional=dict.fromkeys(("content", "thinking"),
                                                                                      JSON_VALUES)),
        },
    ),
    min_size=1,
    max_size=6,
)

OPENAI_DELTA = st.one_of(
    st.builds(lambda text: {"content": text}, TEXT),
    st.builds(lambda text: {"reasoning_content": text}, TEXT),
    st.just({"role": "assistant", "content": ""}),
    st.just({}),
)
OPENAI_CHOICE = st.builds(
    lambda delta, finish: {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
    OPENAI_DELTA, st.sampled_from([None, "stop", "length"]),
)
OPENAI_USAGE = st.builds(
    lambda prompt, completion: {"choices": [], "usage": _present(prompt_tokens=prompt, completion_tokens=completion)},
    COUNTS, COUNTS,
)
MILLISECONDS = st.none() | st.floats(0, 1e9)
OPENAI_TIMINGS = st.builds(
    lambda predicted_ms, prompt_ms, predicted_n, prompt_n: {
        "choices": [],
        "timings": _present(predicted_ms=predicted_ms, prompt_ms=prompt_ms, predicted_n=predicted_n,
                            prompt_n=prompt_n),
    },
    MILLISECONDS, MILLISECONDS, COUNTS, COUNTS,
)
OPENAI_ERROR = st.one_of(
    st.builds(lambda m: {"error": {"message": m}}, ONE_LINE), st.builds(lambda m: {"error": m}, ONE_LINE)
)
OPENAI_WELL_TYPED = st.lists(
    st.one_of(OPENAI_CHOICE, OPENAI_CHOICE, OPENAI_USAGE, OPENAI_TIMINGS, OPENAI_ERROR, st.just("[DONE]")),
    max_size=8,
)
OPENAI_ANY_SHAPE = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "choices": JSON_VALUES | st.lists(st.fixed_dictionaries({}, optional={"delta": JSON_VALUES}), max_size=2),
            "usage": JSON_VALUES,
            "timings": JSON_VALUES | st.dictionaries(st.sampled_from(["predicted_ms", "prompt_ms"]), JSON_VALUES),
            "error": JSON_VALUES,
        },
    ),
    min_size=1,
    max_size=6,
)

VALID_NDJSON_LINES = ndjson([
    {"message": {"role": "assistant", "content": "Hello"}, "done": False},
    {"message": {"role": "assistant", "content": ""}, "done": True, "eval_count": 3, "eval_duration": 1000},
])
SSE_LINES = [b"data: [DONE]\n", b"data: {\"choices\": [{\"delta\": {\"content\": \"hi\"}}]}\n", b"\n", b": ping\n",
             b"event: message\n", b"id: 7\n", b"retry: 1000\n", b"retry: soon\n", b"data:\n", b"\r\n"]


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


# The text modality's input validation


@pytest.fixture(scope="module")
def text_modality() -> Modality:
    return load_registry().modality("text")


INPUT_FIELDS = ("iterations", "warmup", "prompts", "temperature", "max_tokens", "seed")
INPUT_VALUES = (
    JSON_VALUES
    | st.integers()
    | st.floats()
    | st.lists(st.text(max_size=8), max_size=3)
    | st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 10_001, 2**63, True, "5", "  ", [""], [" "]])
)


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.sampled_from(INPUT_FIELDS) | st.text(max_size=8), INPUT_VALUES, max_size=6))
def test_text_inputs_are_valid_or_a_config_error(text_modality: Modality, data: dict[str, Any]) -> None:
    try:
        inputs = text_modality.parse_inputs(data)
    except ConfigError as exc:
        assert str(exc)
        return
    values = inputs.model_dump()
    assert 1 <= values["iterations"] <= 10_000 and 0 <= values["warmup"] <= 100
    assert 0.0 <= values["temperature"] <= 2.0 and 1 <= values["max_tokens"] <= 131_072
    assert values["prompts"] and all(prompt.strip() for prompt in values["prompts"])
    assert set(values) == set(INPUT_FIELDS)


# The arithmetic: summarize, stream_metrics, compare

NUMBERS = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 0.0, -0.0, math.nan, math.inf, -math.inf])
    | st.integers(-(10**12), 10**12)
    | st.floats(-1e12, 1e12)
    | st.text(max_size=4)
)
METRIC_NAMES = st.sampled_from(["tps", "ttft_ms", "itl_ms_p50", "total_ms", "output_tokens", "token_count_source"])


def assert_finite_stats(summary: dict[str, dict[str, float]]) -> None:
    for name, stats in summary.items():
        assert set(stats) == set(STATS), name
        assert all(math.isfinite(value) for value in stats.values()), (name, stats)
        low, high = stats["min"], stats["max"]
        slack = 1e-9 * max(1.0, abs(low), abs(high))
        assert all(low - slack <= stats[key] <= high + slack for key in ("mean", "p50", "p90", "p99")), stats
        assert stats["stdev"] >= 0


@settings(max_examples=200, deadline=None)
@given(iterations=st.lists(st.dictionaries(METRIC_NAMES | st.text(max_size=4), NUMBERS, max_size=6), max_size=8))
def test_summarize_skips_unknown_values_and_gives_finite_statistics(iterations: list[dict[str, Any]]) -> None:
    summary = summarize(iterations)
    assert_finite_stats(summary)
    for name, stats in summary.items():  # every counted value is a finite, non-boolean number
        counted = [m[name] for m in iterations if isinstance(m.get(name), int | float)
                   and not isinstance(m.get(name), bool) and math.isfinite(m[name])]
        assert counted and stats["min"] == min(counted) and stats["max"] == max(counted)


@settings(max_examples=200, deadline=None)
@given(iterations=st.lists(st.dictionaries(METRIC_NAMES, st.floats(allow_nan=False), max_size=3), max_size=6))
@example(iterations=[{"output_tokens": 1e308}, {"output_tokens": 1e308}])
@example(iterations=[{"tps": -1.7e308}, {"tps": 1.7e308}, {"tps": 1.7e308}])
@example(iterations=[{"tps": sys.float_info.max}] * 3)  # fsum of max / 3, three times, overflowed rounding up
def test_summarize_of_any_float_gives_finite_statistics(iterations: list[dict[str, Any]]) -> None:
    assert_finite_stats(summarize(iterations))


ARRIVALS = st.lists(st.floats(0, 1e4), min_size=1, max_size=40).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    arrivals=ARRIVALS,
    before=st.floats(0, 10),
    after=st.floats(0, 10),
    timings=st.none() | st.builds(ServerTimings, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS),
)
def test_stream_metrics_of_server_counts_are_finite(
    arrivals: list[float], before: float, after: float, timings: ServerTimings | None
) -> None:
    metrics = stream_metrics(arrivals[0] - before, arrivals, arrivals[-1] + after, timings)
    assert_sane_metrics(metrics)
    assert metrics["output_tokens"] >= 1 and metrics["chunks"] == len(arrivals)
    assert metrics["ttft_ms"] <= metrics["total_ms"] + 1e-6


SERVER_NUMBERS = COUNTS | st.sampled_from([0, math.nan, math.inf, -math.inf, -5])


@settings(max_examples=200, deadline=None)
@given(
    arrivals=ARRIVALS,
    timings=st.builds(ServerTimings, SERVER_NUMBERS, SERVER_NUMBERS, SERVER_NUMBERS, SERVER_NUMBERS,
                      SERVER_NUMBERS, SERVER_NUMBERS),
)
@example(arrivals=[1.0, 2.0], timings=ServerTimings(output_tokens=5, eval_ns=math.nan))  # type: ignore[arg-type]
@example(arrivals=[1.0, 2.0], timings=ServerTimings(load_ns=math.nan))  # type: ignore[arg-type]
def test_stream_metrics_of_any_server_numbers_have_no_nan(arrivals: list[float], timings: ServerTimings) -> None:
    metrics = stream_metrics(arrivals[0], arrivals, arrivals[-1], timings)
    assert not any(isinstance(value, float) and math.isnan(value) for value in metrics.values()), metrics


TEXT_METRICS = load_registry().modality("text").metrics
COMPARED = compared(TEXT_METRICS)
STAT_VALUES = st.none() | st.booleans() | st.sampled_from([0, 0.0, math.nan, math.inf, -math.inf]) | st.floats() \
    | st.integers(-(10**15), 10**15)
SUMMARIES = st.dictionaries(
    st.sampled_from(sorted({c.metric for c in COMPARED})),
    st.dictionaries(st.sampled_from(["mean", "min", "max", "p50"]), STAT_VALUES, max_size=4),
    max_size=5,
)


def record(index: int, summary: dict[str, Any]) -> RunRecord:
    return RunRecord(id=f"run-{index}", created_at=datetime(2025, 1, 1, tzinfo=UTC), modality="text",
                     backend="ollama", model=f"m{index}", status="completed", summary=summary)


@settings(max_examples=200, deadline=None)
@given(summaries=st.lists(SUMMARIES, min_size=2, max_size=6))
def test_compare_of_zero_missing_nan_and_inf_values_has_no_nan(summaries: list[dict[str, Any]]) -> None:
    comparison = compare([record(i, s) for i, s in enumerate(summaries)], TEXT_METRICS)
    assert len(comparison.rows) == len(COMPARED)
    for row, compared_row in zip(comparison.rows, COMPARED, strict=True):
        known = [(v, i) for i, v in enumerate(row.values) if v is not None]
        assert all(math.isfinite(v) for v, _ in known)
        assert all(d is None or not math.isnan(d) for d in row.diff_pct) and row.diff_pct[0] is None
        if not known:
            assert row.winner is None
            continue
        best = (max if compared_row.direction == "higher" else min)(v for v, _ in known)
        assert row.winner is not None and row.values[row.winner] == best
        if row.values[0] in (None, 0):
            assert row.diff_pct == [None] * len(summaries)  # a difference to nothing, or to zero, is not a number
