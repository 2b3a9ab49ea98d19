"""Thinking apart from the answer: ``ttft_ms`` is the first visible token, ``ttft_answer_ms`` the first answer
token, and the output tokens divide into thinking and answer, from the server's count where it gives one."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nicegui.testing import User

from llamaburn.backends.base import Backend, Breakdown, ChatRequest
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.events import Token
from llamaburn.engine.metrics import measure_stream, thinking_metrics
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.server import register_pages
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.page import marked

THINKING, ANSWER, RATE = 6, 4, 100.0  # the fake's thinking takes exactly 6 / 100 s = 60 ms
THINKING_MS = THINKING / RATE * 1000


async def measure(backend: Backend, answers: int = 1) -> list[dict[str, object]]:
    """``answers`` answers on one connection, after a first one that pays for the connection and the
    client's first-use costs (a run's warmup absorbs them; here they would delay the first token's stamp)."""
    try:
        chat = ChatRequest(model=DEFAULT_MODEL, prompt="why?")
        await measure_stream(backend.stream_chat(chat), lambda text: None)
        return [await measure_stream(backend.stream_chat(chat), lambda text: None) for _ in range(answers)]
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    ("kind", "field"),
    [(OllamaBackend, "reasoning_content"), (OpenAIBackend, "reasoning_content"), (OpenAIBackend, "reasoning")],
    ids=["ollama-message.thinking", "openai-reasoning_content", "openai-reasoning"],
)
async def test_the_answer_starts_after_exactly_the_thinking_time(kind: type[Backend], field: str) -> None:
    script = Script(tokens=ANSWER, thinking=THINKING, ttft_s=0.03, tokens_per_s=RATE, thinking_field=field)
    with FakeServer(script) as server:
        answers = await measure(kind(server.url), answers=5)
    # The median of five: an answer whose first token a busy machine stamped late does not decide.
    gaps = [m["ttft_answer_ms"] - m["ttft_ms"] for m in answers]  # type: ignore[operator]
    assert statistics.median(gaps) == pytest.approx(THINKING_MS, abs=2)
    assert statistics.median(m["thinking_ms"] for m in answers) == pytest.approx(THINKING_MS, abs=2)  # type: ignore[type-var]
    metrics = answers[0]
    assert (metrics["thinking_tokens"], metrics["answer_tokens"]) == (THINKING, ANSWER)
    assert metrics["output_tokens"] == THINKING + ANSWER


async def test_the_servers_reasoning_count_wins_over_the_chunks() -> None:
    script = Script(tokens=ANSWER * 2, thinking=THINKING, tokens_per_chunk=2, reasoning_tokens=True, llama_cpp=True)
    with FakeServer(script) as server:
        [metrics] = await measure(OpenAIBackend(server.url))
    assert metrics["chunks"] == THINKING // 2 + ANSWER  # two tokens a chunk
    assert (metrics["thinking_tokens"], metrics["answer_tokens"]) == (THINKING, ANSWER * 2)


async def test_an_answer_without_thinking_has_none() -> None:
    with FakeServer(Script(tokens=3)) as server:
        [metrics] = await measure(OllamaBackend(server.url))
    assert metrics["ttft_answer_ms"] == metrics["ttft_ms"]
    assert (metrics["thinking_ms"], metrics["thinking_tokens"], metrics["answer_tokens"]) == (0.0, 0, 3)


async def test_thinking_only_has_no_answer_time() -> None:
    with FakeServer(Script(tokens=0, thinking=3)) as server:
        [metrics] = await measure(OpenAIBackend(server.url))
    assert metrics["ttft_answer_ms"] is None
    assert (metrics["thinking_tokens"], metrics["answer_tokens"]) == (3, 0)


@given(
    kinds=st.lists(st.booleans(), min_size=1, max_size=30),
    reported=st.none() | st.integers(-3, 40).map(float) | st.just(float("nan")),
    extra=st.integers(0, 10),
)
def test_thinking_and_answer_always_add_up(kinds: list[bool], reported: float | None, extra: int) -> None:
    arrivals = [0.01 * (i + 1) for i in range(len(kinds))]
    output = len(kinds) + extra
    metrics = thinking_metrics(0.0, arrivals, 1.0, kinds, output, Breakdown(thinking_tokens=reported))
    counted = metrics["thinking_tokens"] + metrics["answer_tokens"]
    assert counted == output or (counted == len(kinds) and metrics["thinking_tokens"] == sum(kinds))
    assert metrics["ttft_answer_ms"] is None or metrics["ttft_answer_ms"] >= arrivals[0] * 1000
    assert metrics["thinking_ms"] >= 0


async def test_the_runner_publishes_thinking_apart_from_the_answer() -> None:
    modality = load_registry().modality("text")
    with FakeServer(Script(tokens=2, thinking=2)) as server:
        async with OllamaBackend(server.url) as backend:
            run = Run(modality, modality.parse_inputs({"iterations": 1, "warmup": 0}), Target(backend, DEFAULT_MODEL))
            events = run.bus.subscribe()
            await run.execute()
    tokens = [(e.text, e.thinking) for e in events.drain() if isinstance(e, Token)]
    assert tokens == [("h0 ", True), ("h1 ", True), ("t0 ", False), ("t1 ", False)]


async def test_the_live_panel_shows_thinking_apart_from_the_answer(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeServer(Script(tokens=3, thinking=2)) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        service = RunService(load_registry(), Store())
        register_pages(service)
        try:
            await user.open("/")
            await until(lambda: marked(user, "backend-status").text.startswith("connected"))
            with user:
                marked(user, "field-iterations").value = 1
                marked(user, "field-warmup").value = 0
            user.find(marker="run-button").click()
            await until(lambda: marked(user, "live-progress").text == "Complete")
            thinking = marked(user, "live-thinking")
            assert (thinking.text, thinking.visible) == ("h0 h1 ", True)
            assert marked(user, "live-text").text == "t0 t1 t2 "  # the answer alone
        finally:
            await service.aclose()


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        with contextlib.suppress(AssertionError, LookupError):
            if condition():
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
