"""The pipeline with the real live panel: NiceGUI's simulated ``user`` opens the app's page and starts runs.

This is a pytest module because NiceGUI's ``user`` simulation is a pytest fixture. ``benchmarks.pipeline``
runs it in a subprocess (``pytest -p nicegui.testing.user_plugin benchmarks/ui_user.py``) and reads the
JSON it writes to ``$LLAMABURN_UI_BENCH_OUT``; it is not part of the test suite (``testpaths = tests``).

The page, its ``LivePanel`` (10 Hz timer, ``set_text`` of the whole answer each tick), the service, the
recorder and the store are all real; only the browser is simulated (no websocket is written).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from nicegui.testing import User

from benchmarks.common import Stat
from benchmarks.servers import blast_server, fake_server
from llamaburn.engine.metrics import percentile
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.server import register_pages
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing.page import marked

OUT = os.environ.get("LLAMABURN_UI_BENCH_OUT", "")
TOKENS = int(os.environ.get("LLAMABURN_UI_BENCH_TOKENS", "50000"))
REPEATS = int(os.environ.get("LLAMABURN_UI_BENCH_REPEATS", "3"))
LAG_SECONDS = float(os.environ.get("LLAMABURN_UI_BENCH_LAG_S", "5"))


def element(user: User, marker: str) -> Any:
    return marked(user, marker)


async def until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except AssertionError:  # not on the page yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def open_app(user: User, url: str, monkeypatch: pytest.MonkeyPatch) -> RunService:
    monkeypatch.setenv("OLLAMA_HOST", url)
    database = Path(tempfile.mkdtemp(prefix="llamaburn-ui-bench-")) / "history.db"
    service = RunService(load_registry(), Store(f"sqlite:///{database}"))
    register_pages(service)
    await user.open("/")
    await until(lambda: str(element(user, "backend-status").text).startswith("connected"))
    return service


async def start_and_finish(user: User, service: RunService, tokens: int) -> tuple[Run, float]:
    """Click Run; return the run and the seconds from the click until its last store write."""
    recorded: list[float] = []
    unsubscribe = service.on_history_change(lambda: recorded.append(time.perf_counter()))
    with user:
        for name, value in {"iterations": 1, "warmup": 0, "max_tokens": tokens}.items():
            element(user, f"field-{name}").value = value
    count = len(service.runs)
    started = time.perf_counter()
    user.find(marker="run-button").click()
    try:
        await until(lambda: len(service.runs) == count + 1 and len(recorded) >= 2)  # started, then stored
    except AssertionError:
        log = [child.text for child in element(user, "event-log").default_slot.children]
        raise AssertionError(f"the run did not finish; the page's event log: {log}") from None
    await until(lambda: element(user, "live-progress").text == "Complete")
    unsubscribe()
    run = list(service.runs.values())[-1]
    assert run.status == "completed", run.error
    return run, recorded[-1] - started


def write(key: str, value: dict[str, Any]) -> None:
    path = Path(OUT)
    data = json.loads(path.read_text()) if path.exists() and path.read_text() else {}
    data[key] = value
    path.write_text(json.dumps(data))


async def test_ceiling_with_the_real_live_panel(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    with blast_server(TOKENS) as server:
        service = await open_app(user, server.url, monkeypatch)
        try:
            await start_and_finish(user, service, TOKENS)  # warm
            decode, end_to_end = [], []
            for _ in range(REPEATS):
                run, seconds = await start_and_finish(user, service, TOKENS)
                decode.append(run.iterations[0]["tps"])
                end_to_end.append(TOKENS / seconds)
                assert len(element(user, "live-text").text) == 5 * TOKENS  # the panel showed every token
        finally:
            await service.aclose()
    write("ceiling", {"tokens": TOKENS, "decode": _stat(decode), "end_to_end": _stat(end_to_end)})


async def test_lag_with_the_real_live_panel(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    rate, tokens = 2_000, round(2_000 * LAG_SECONDS)
    loop = asyncio.get_running_loop()
    with fake_server(tokens=tokens, tokens_per_s=rate) as server:
        service = await open_app(user, server.url, monkeypatch)
        p99s, maxima, rates = [], [], []
        try:
            await start_and_finish(user, service, tokens)
            for _ in range(REPEATS):
                lags: list[float] = []
                done = asyncio.Event()

                async def monitor(lags: list[float] = lags, done: asyncio.Event = done) -> None:
                    while not done.is_set():
                        before = loop.time()
                        await asyncio.sleep(0.005)
                        lags.append(max(0.0, loop.time() - before - 0.005) * 1000)

                watcher = asyncio.ensure_future(monitor())
                run, _ = await start_and_finish(user, service, tokens)
                done.set()
                await watcher
                p99s.append(percentile(lags, 99))
                maxima.append(max(lags))
                rates.append(run.iterations[0]["tps"])
        finally:
            await service.aclose()
    write("lag", {"tokens": tokens, "p99": _stat(p99s), "max": _stat(maxima), "tps": _stat(rates)})


def _stat(samples: list[float]) -> dict[str, Any]:
    return asdict(Stat.of(samples))
