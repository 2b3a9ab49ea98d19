"""What the property tests feed the stream parsers: their settings, the strategies for what a server may
send (well typed, or of any shape), and a reply streamed through respx into a backend, measured as a run
measures it."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import respx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from llamaburn.backends.base import Backend, ChatRequest
from llamaburn.engine.metrics import measure_stream
from llamaburn.errors import BackendError

EXAMPLES = 150
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URL = "http://127.0.0.1:11434"
CHAT = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}
CONTENT_TYPES = {"ollama": "application/x-ndjson", "openai": "text/event-stream"}
MODEL_LISTS = {"ollama": "/api/tags", "openai": "/v1/models"}


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
