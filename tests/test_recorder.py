"""The recorder saves a run from its events: what `history` shows after a run completes, fails or is cancelled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from llamaburn.backends.base import Backend
from llamaburn.engine.modality import Inputs, Modality, Target
from llamaburn.engine.runner import Run
from llamaburn.errors import BackendError
from llamaburn.storage.recorder import Recorder
from llamaburn.storage.records import IterationRecord
from llamaburn.storage.store import Store

CONFIG = {"prompt": "Explain recursion.", "iterations": 3}
SYSTEM = {"os": "Linux", "cpu": "test cpu"}


class ScriptedModality(Modality):
    """Streams three chunks per request, yielding to the loop between them, with no network."""

    name: ClassVar[str] = "scripted"
    label: ClassVar[str] = "Scripted"
    available: ClassVar[bool] = True

    def __init__(self, fail_on: int | None = None, cancel_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.cancel_on = cancel_on
        self.run: Run | None = None
        self.requests = 0

    def prompt(self, inputs: Inputs, index: int) -> str:
        return f"prompt {index}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        self.requests += 1
        request = self.requests
        for part in ("Hello", ", ", f"answer {request}"):
            on_text(part)
            if request == self.cancel_on and self.run is not None:
                self.run.cancel()
            await asyncio.sleep(0)
            if request == self.fail_on:
                raise BackendError("Ollama at http://127.0.0.1:11434 closed the stream")
        return {"tps": 10.0 * request, "ttft_ms": 100.0 + request, "token_count_source": "chunks"}


def make_run(modality: ScriptedModality, iterations: int, warmup: int) -> Run:
    target = Target(backend=cast(Backend, None), model="llama3.2:1b")
    run = Run(modality, Inputs(iterations=iterations, warmup=warmup), target)
    modality.run = run
    return run


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path}/h.db")


def summary_of(its: list[IterationRecord]) -> list[tuple[bool, int, str, str]]:
    return [(it.warmup, it.index, it.prompt, it.output) for it in its]


async def test_recorder_creates_the_run_row_before_anything_runs(store: Store) -> None:
    run = make_run(ScriptedModality(), iterations=1, warmup=0)

    recorder = Recorder(store, run, backend="ollama", config=CONFIG, system=SYSTEM)

    record = store.get_run(run.id)
    assert (record.status, record.modality, record.backend, record.model) == (
        "running",
        "scripted",
        "ollama",
        "llama3.2:1b",
    )
    assert (record.config, record.system) == (CONFIG, SYSTEM)
    run.cancel()
    await run.execute()
    await recorder.task


async def test_completed_run_is_stored_with_summary_warmups_and_iterations(store: Store) -> None:
    run = make_run(ScriptedModality(), iterations=3, warmup=2)
    recorder = Recorder(store, run, backend="ollama", config=CONFIG, system=SYSTEM)

    await run.execute()
    await recorder.task

    record = store.get_run(run.id)
    assert record.status == "completed"
    assert record.error is None
    assert record.summary == run.summary
    assert record.summary["tps"]["mean"] == pytest.approx(40.0)  # requests 3, 4, 5 after two warmups
    assert summary_of(store.iterations(run.id)) == [
        (True, 1, "prompt 0", "Hello, answer 1"),
        (True, 2, "prompt 1", "Hello, answer 2"),
        (False, 1, "prompt 2", "Hello, answer 3"),
        (False, 2, "prompt 3", "Hello, answer 4"),
        (False, 3, "prompt 4", "Hello, answer 5"),
    ]
    measured = [it.metrics for it in store.iterations(run.id) if not it.warmup]
    assert measured == run.iterations
    assert recorder.error is None


async def test_backend_error_on_third_iteration_stores_failed_run_and_two_iterations(store: Store) -> None:
    run = make_run(ScriptedModality(fail_on=3), iterations=5, warmup=0)
    recorder = Recorder(store, run, backend="ollama", config=CONFIG, system=SYSTEM)

    await run.execute()
    await recorder.task

    record = store.get_run(run.id)
    assert record.status == "failed"
    assert record.error == "Ollama at http://127.0.0.1:11434 closed the stream"
    assert record.summary["tps"]["mean"] == pytest.approx(15.0)
    assert summary_of(store.iterations(run.id)) == [
        (False, 1, "prompt 0", "Hello, answer 1"),
        (False, 2, "prompt 1", "Hello, answer 2"),
    ]


async def test_run_cancelled_mid_stream_is_stored_cancelled_with_completed_iterations(store: Store) -> None:
    run = make_run(ScriptedModality(cancel_on=2), iterations=5, warmup=0)
    recorder = Recorder(store, run, backend="ollama", config=CONFIG, system=SYSTEM)

    await run.execute()
    await recorder.task

    record = store.get_run(run.id)
    assert record.status == "cancelled"
    assert record.error is None
    assert summary_of(store.iterations(run.id)) == [(False, 1, "prompt 0", "Hello, answer 1")]
    assert record.summary["tps"]["mean"] == pytest.approx(10.0)


async def test_slow_database_does_not_slow_the_measurement(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    write_delay_s, iterations = 0.2, 5
    run = make_run(ScriptedModality(), iterations=iterations, warmup=0)
    recorder = Recorder(store, run, backend="ollama", config=CONFIG, system=SYSTEM)
    add_iteration = store.add_iteration

    def slow_add_iteration(record: IterationRecord) -> None:
        time.sleep(write_delay_s)
        add_iteration(record)

    monkeypatch.setattr(store, "add_iteration", slow_add_iteration)

    started = time.perf_counter()
    await run.execute()
    measured_s = time.perf_counter() - started
    await recorder.task

    # Waiting for the writes would take at least iterations * write_delay_s = 1 s.
    assert measured_s < iterations * write_delay_s / 2
    assert run.status == "completed"
    assert [it.index for it in store.iterations(run.id)] == [1, 2, 3, 4, 5]
    assert store.get_run(run.id).status == "completed"
