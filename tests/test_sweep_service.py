"""Sweeps in the long-lived service: they share the server lock with runs, so neither measures the other."""

from __future__ import annotations

import asyncio

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import RunInProgressError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.service.sweep import SweepRequest
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.moments import until


async def test_a_sweep_on_a_server_a_run_is_measuring_ends_failed_naming_the_run() -> None:
    service = RunService(load_registry(), Store())
    try:
        with FakeServer(Script(tokens=30, tokens_per_s=50)) as fake:
            request = RunRequest(inputs={"iterations": 1, "warmup": 0}, backend="ollama", url=fake.url,
                                 model=DEFAULT_MODEL, read_timeout=None)
            run = await service.start(request)
            await until(lambda: len(fake.requests) > 0 and run.status == "running")
            live = service.sweeps.start(SweepRequest(base=request, concurrency=[1]))
            await asyncio.wait_for(live.done.wait(), 10)
            await asyncio.wait_for(run.done.wait(), 10)
    finally:
        await service.aclose()
    error, end = live.events
    assert error["type"] == "error" and run.id in str(error["message"])
    assert end["status"] == "failed" and end["cells"] == 0
    assert len([r for r in fake.requests if r.path == "/api/chat"]) == 1  # the sweep sent nothing


async def test_a_run_on_a_server_a_sweep_is_measuring_is_refused() -> None:
    service = RunService(load_registry(), Store())
    try:
        with FakeServer(Script(tokens=30, tokens_per_s=50)) as fake:
            request = RunRequest(inputs={"iterations": 1, "warmup": 0}, backend="ollama", url=fake.url,
                                 model=DEFAULT_MODEL, read_timeout=None)
            live = service.sweeps.start(SweepRequest(base=request, concurrency=[2]))
            await until(lambda: len(live.sweep.running) == 2)
            with pytest.raises(RunInProgressError) as refused:
                await service.start(request)
            assert refused.value.run_id in {run.id for run in live.sweep.running}
            await asyncio.wait_for(live.done.wait(), 10)
    finally:
        await service.aclose()
    assert live.events[-1]["status"] == "completed"
