"""Cache-aware prompt metrics: the cached count from each protocol, the hit/miss/unknown outcome, and a prompt
rate over the newly processed tokens only (a cache hit made it read 926 to 1,515 tok/s where llama-server
processed 158)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamaburn.backends.base import Backend, Breakdown, ChatRequest, ServerTimings
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream, prompt_metrics
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.errors import BackendError
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

PROMPT_S = 0.02  # the fake's prompt time: its TTFT


async def measure(backend: Backend, **request: object) -> dict[str, object]:
    try:
        chat = ChatRequest(model=DEFAULT_MODEL, prompt="hi", **request)  # type: ignore[arg-type]
        return await measure_stream(backend.stream_chat(chat), lambda text: None)
    finally:
        await backend.aclose()


async def test_llama_cpp_timings_give_the_rate_of_the_new_tokens_and_a_hit() -> None:
    script = Script(tokens=3, ttft_s=PROMPT_S, prompt_tokens=36, cached_tokens=31, llama_cpp=True)
    with FakeServer(script) as server:
        metrics = await measure(OpenAIBackend(server.url))
    assert metrics["prompt_tokens"] == 36  # all of them, as before
    assert metrics["cached_prompt_tokens"] == 31
    assert metrics["prompt_cache"] == "hit"
    assert metrics["prompt_tps"] == pytest.approx(5 / PROMPT_S)  # prompt_n / prompt_ms, not 36 / prompt_ms


async def test_a_reported_zero_is_a_miss_and_every_token_is_new() -> None:
    script = Script(tokens=3, ttft_s=PROMPT_S, prompt_tokens=36, cached_tokens=0, llama_cpp=True)
    with FakeServer(script) as server:
        metrics = await measure(OpenAIBackend(server.url))
    assert (metrics["cached_prompt_tokens"], metrics["prompt_cache"]) == (0, "miss")
    assert metrics["prompt_tps"] == pytest.approx(36 / PROMPT_S)


async def test_usage_alone_gives_the_cached_count_but_no_prompt_time() -> None:
    with FakeServer(Script(tokens=3, prompt_tokens=20, cached_tokens=8)) as server:
        metrics = await measure(OpenAIBackend(server.url))
    assert (metrics["cached_prompt_tokens"], metrics["prompt_cache"], metrics["prompt_tps"]) == (8, "hit", None)


async def test_a_server_that_does_not_say_leaves_the_cache_unknown() -> None:
    with FakeServer(Script(tokens=3, prompt_tokens=20)) as server:
        metrics = await measure(OpenAIBackend(server.url))
    assert (metrics["cached_prompt_tokens"], metrics["prompt_cache"]) == (None, "unknown")


@pytest.mark.parametrize(
    ("cached", "cache_n"),
    [(10, 3), (40, None)],  # usage and timings disagree; more cached than the prompt has
    ids=["usage-and-timings-disagree", "more-cached-than-prompt"],
)
async def test_an_inconsistent_cached_count_is_unknown(cached: int, cache_n: int | None) -> None:
    timings = cache_n is not None
    script = Script(tokens=3, prompt_tokens=36, cached_tokens=cached, cache_n=cache_n, llama_cpp=timings)
    with FakeServer(script) as server:
        metrics = await measure(OpenAIBackend(server.url))
    assert (metrics["cached_prompt_tokens"], metrics["prompt_cache"]) == (None, "unknown")


async def test_ollama_subtracts_its_cached_count_from_prompt_eval_count() -> None:
    script = Script(tokens=3, ttft_s=PROMPT_S, prompt_tokens=36, cached_tokens=31)
    with FakeServer(script) as server:
        metrics = await measure(OllamaBackend(server.url))
    assert (metrics["prompt_tokens"], metrics["cached_prompt_tokens"], metrics["prompt_cache"]) == (36, 31, "hit")
    assert metrics["prompt_tps"] == pytest.approx(5 / PROMPT_S, rel=1e-6)


async def test_ollama_without_a_cached_count_is_unknown_and_keeps_its_own_rate() -> None:
    with FakeServer(Script(tokens=3, ttft_s=PROMPT_S, prompt_tokens=36)) as server:
        metrics = await measure(OllamaBackend(server.url))
    assert metrics["prompt_cache"] == "unknown"  # Ollama omits a zero count: absent is not a miss
    assert metrics["prompt_tps"] == pytest.approx(36 / PROMPT_S, rel=1e-6)


numbers = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 10**6).map(float)


@given(prompt=numbers, cached=numbers, new=numbers, prompt_ns=numbers)
def test_prompt_metrics_never_invent_a_count_or_a_rate(
    prompt: float | None, cached: float | None, new: float | None, prompt_ns: float | None
) -> None:
    metrics = prompt_metrics(
        ServerTimings(prompt_tokens=prompt, prompt_eval_ns=prompt_ns),
        Breakdown(cached_prompt_tokens=cached, new_prompt_tokens=new),
    )
    known = metrics["cached_prompt_tokens"]
    assert metrics["prompt_cache"] == ("unknown" if known is None else "hit" if known else "miss")
    if known is not None:
        assert known >= 0 and known == cached
        assert metrics["prompt_tokens"] is None or known <= metrics["prompt_tokens"]
    rate = metrics["prompt_tps"]
    assert rate is None or (rate > 0 and rate != float("inf"))


def cache_run(backend: Backend, mode: str, iterations: int = 2) -> Run:
    modality = load_registry().modality("text")
    inputs = modality.parse_inputs({"iterations": iterations, "warmup": 0, "prompts": ["hi"], "cache_mode": mode})
    return Run(modality, inputs, Target(backend, DEFAULT_MODEL))


async def test_cold_on_llama_cpp_sends_cache_prompt_false_and_checks_the_miss() -> None:
    with FakeServer(Script(tokens=3, prompt_tokens=36, cached_tokens=31, llama_cpp=True)) as server:
        backend = OpenAIBackend(server.url)
        run = await cache_run(backend, "cold").execute()
        await backend.aclose()
    chats = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
    assert [(b["cache_prompt"], b["messages"][-1]["content"]) for b in chats] == [(False, "hi")] * 2
    assert [(i["prompt_cache"], i["cache_method"], i["cache_mode_held"]) for i in run.iterations] == [
        ("miss", "cache_prompt", True)
    ] * 2
    assert [r.path for r in server.requests].count("/props") == 1  # asked once per backend


async def test_cold_elsewhere_prefixes_a_unique_nonce_line() -> None:
    with FakeServer(Script(tokens=3)) as server:
        backend = OllamaBackend(server.url)
        run = await cache_run(backend, "cold", iterations=3).execute()
        await backend.aclose()
    prompts = [r.body["messages"][-1]["content"] for r in server.requests if r.path == "/api/chat"]
    assert all(p.endswith("]\nhi") and p.startswith("[") for p in prompts) and len(set(prompts)) == 3
    assert "cache_prompt" not in server.requests[0].body
    assert {(i["cache_method"], i["cache_mode_held"]) for i in run.iterations} == {("nonce", None)}


async def test_a_server_that_ignores_cache_prompt_gets_a_nonce_from_then_on() -> None:
    script = Script(tokens=3, prompt_tokens=36, cached_tokens=31, llama_cpp=True, cache_prompt_honoured=False)
    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url)
        run = await cache_run(backend, "cold").execute()
        await backend.aclose()
    assert [(i["cache_method"], i["cache_mode_held"]) for i in run.iterations] == [
        ("cache_prompt", False), ("nonce", False)
    ]


async def test_warm_sends_the_prompt_as_it_is_and_labels_the_hit() -> None:
    with FakeServer(Script(tokens=3, prompt_tokens=36, cached_tokens=31, llama_cpp=True)) as server:
        backend = OpenAIBackend(server.url)
        run = await cache_run(backend, "warm").execute()
        await backend.aclose()
    chats = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
    assert all("cache_prompt" not in b and b["messages"][-1]["content"] == "hi" for b in chats)
    assert [(i["prompt_cache"], i["cache_method"], i["cache_mode_held"]) for i in run.iterations] == [
        ("hit", None, True)
    ] * 2
    assert run.inputs.model_dump()["cache_mode"] == "warm"


def test_the_default_is_cold() -> None:
    assert load_registry().modality("text").parse_inputs({}).cache_mode == "cold"  # type: ignore[attr-defined]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
usage_keys = st.sampled_from(["prompt_tokens", "completion_tokens", "prompt_tokens_details", "cached_tokens",
                              "completion_tokens_details", "reasoning_tokens"])
timings_keys = st.sampled_from(["cache_n", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms"])


@given(
    usage=st.dictionaries(usage_keys, json_values | st.dictionaries(usage_keys, json_values, max_size=3)),
    timings=st.dictionaries(timings_keys, json_values),
)
def test_any_usage_and_timings_parse_or_are_a_protocol_error(
    usage: dict[str, object], timings: dict[str, object]
) -> None:
    backend = OpenAIBackend("http://127.0.0.1:9")
    try:
        parsed = backend._breakdown({"choices": [], "usage": usage, "timings": timings})
    except BackendError as exc:
        assert " sent " in str(exc) and "not " in str(exc)  # a field of the wrong JSON type, named
        return
    assert parsed is None or all(v is None or isinstance(v, float) for v in vars_of(parsed))
    metrics = prompt_metrics(ServerTimings(prompt_tokens=36.0, prompt_eval_ns=1e7), parsed or Breakdown())
    assert metrics["prompt_cache"] in ("hit", "miss", "unknown")


def vars_of(breakdown: Breakdown) -> list[object]:
    return [getattr(breakdown, name) for name in Breakdown.__slots__]  # type: ignore[attr-defined]
