"""The runner against respx-mocked Ollama streams: events in order, warmups apart, failures and cancels."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import respx

from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.events import Error, Event
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run

URL = "http://127.0.0.1:11434"


def ndjson_answer(tokens: list[str], gap_s: float = 0.0, closed: list[bool] | None = None) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        try:
            for token in tokens:
                await asyncio.sleep(gap_s)
                yield json.dumps({"model": "m", "message": {"role": "assistant", "content": token},
                                  "done": False}).encode() + b"\n"
            yield json.dumps({"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                              "done_reason": "stop", "eval_count": len(tokens),
                              "eval_duration": 1_000_000 * len(tokens)}).encode() + b"\n"
        finally:
            if closed is not None:
                closed.append(True)

    return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=body())


def text_run(**inputs: Any) -> tuple[Run, OllamaBackend]:
    modality = load_registry().modality("text")
    backend = OllamaBackend(URL)
    return Run(modality, modality.parse_inputs(inputs), Target(backend, "m")), backend


async def collect(run: Run) -> list[Event]:
    subscription = run.bus.subscribe()
    await run.execute()
    return [event async for event in subscription]


@respx.mock
async def test_events_follow_the_spec_order_and_warmup_stays_out_of_the_summary() -> None:
    respx.post(f"{URL}/api/chat").mock(side_effect=lambda request: ndjson_answer(["The", " concept", " is"]))
    run, backend = text_run(iterations=2, warmup=1, prompts=["a", "b"])
    events = await collect(run)
    await backend.aclose()
    assert [e.type for e in events] == [
        "warmup", "token", "token", "token", "warmup_complete",
        "iteration_start", "token", "token", "token", "iteration_complete",
        "iteration_start", "token", "token", "token", "iteration_complete",
        "complete",
    ]
    assert [(e.current, e.total, e.prompt) for e in events if e.type == "warmup"] == [(1, 1, "a")]  # type: ignore[union-attr]
    starts = [e for e in events if e.type == "iteration_start"]
    assert [(e.iteration, e.total, e.prompt) for e in starts] == [(1, 2, "b"), (2, 2, "a")]  # type: ignore[union-attr]
    assert run.status == "completed"
    assert len(run.warmups) == 1 and len(run.iterations) == 2
    assert run.summary["output_tokens"]["mean"] == 3
    assert run.iterations[0]["token_count_source"] == "server"


@respx.mock
async def test_options_reach_the_server() -> None:
    route = respx.post(f"{URL}/api/chat").mock(side_effect=lambda request: ndjson_answer(["x", "y"]))
    run, backend = text_run(iterations=1, warmup=0, temperature=0.0, max_tokens=7, seed=42, prompts=["hi"],
                            cache_mode="warm")  # cold puts a nonce line before the prompt
    await run.execute()
    await backend.aclose()
    body = json.loads(route.calls.last.request.content)
    assert body["options"] == {"temperature": 0.0, "num_predict": 7, "seed": 42}
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is True


@respx.mock
async def test_failure_mid_run_keeps_completed_iterations() -> None:
    answers = iter([ndjson_answer(["a", "b"]), httpx.Response(500, json={"error": "out of memory"})])
    respx.post(f"{URL}/api/chat").mock(side_effect=lambda request: next(answers))
    run, backend = text_run(iterations=3, warmup=0)
    events = await collect(run)
    await backend.aclose()
    assert run.status == "failed"
    assert "HTTP 500: out of memory" in (run.error or "")
    assert events[-1].type == "error"
    assert len(run.iterations) == 1
    assert run.summary["tps"]["mean"] > 0


@respx.mock
async def test_cancel_mid_stream_closes_it_within_250_ms_and_keeps_completed_iterations() -> None:
    closed: list[bool] = []
    answers = iter([ndjson_answer(["a", "b"]), ndjson_answer(["x"] * 1000, gap_s=0.05, closed=closed)])
    respx.post(f"{URL}/api/chat").mock(side_effect=lambda request: next(answers))
    run, backend = text_run(iterations=3, warmup=0)
    subscription = run.bus.subscribe()
    task = asyncio.create_task(run.execute())
    tokens_in_second = 0
    async for event in subscription:
        if event.type == "iteration_start" and event.iteration == 2:  # type: ignore[union-attr]
            tokens_in_second = 0
        if event.type == "token":
            tokens_in_second += 1
            if len(run.iterations) == 1 and tokens_in_second == 3:
                cancelled_at = time.perf_counter()
                run.cancel()
        if event.type == "cancelled":
            elapsed_s = time.perf_counter() - cancelled_at
    await task
    await backend.aclose()
    assert elapsed_s < 0.25
    assert closed == [True]
    assert run.status == "cancelled"
    assert len(run.iterations) == 1
    assert run.summary["tps"]["mean"] > 0


async def test_cancel_before_start_runs_nothing() -> None:
    run, backend = text_run(iterations=3, warmup=1)
    run.cancel()
    events = await collect(run)
    await backend.aclose()
    assert [e.type for e in events] == ["cancelled"]
    assert run.iterations == [] and run.status == "cancelled"


@respx.mock
async def test_one_keepalive_client_serves_every_iteration() -> None:
    respx.post(f"{URL}/api/chat").mock(side_effect=lambda request: ndjson_answer(["a", "b"]))
    run, backend = text_run(iterations=3, warmup=1)
    client = backend.client
    await run.execute()
    assert backend.client is client and not client.is_closed
    await backend.aclose()


async def test_plugin_bug_ends_the_run_as_failed() -> None:
    run, backend = text_run(iterations=1, warmup=0)

    async def broken(*args: Any) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    run.modality.measure = broken  # type: ignore[method-assign]
    events = await collect(run)
    await backend.aclose()
    assert run.status == "failed"
    assert events[-1] == Error(message="ZeroDivisionError: division by zero")
