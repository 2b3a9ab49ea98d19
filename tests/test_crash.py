"""Crash safety: a SIGKILL mid-run keeps every completed iteration, and the run shows as interrupted; on
SQLite and on PostgreSQL (``store_url``), since the crash-marking is the store's own query."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer, Script


@pytest.fixture(autouse=True)
def history(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test on each backend: the test's ``Store()`` and the ``llamaburn`` processes it starts read this URL."""
    monkeypatch.setenv("LLAMABURN_DB_URL", store_url)
    return store_url


def env() -> dict[str, str]:
    """The test's environment (its own database), minus what would make NiceGUI think it runs under test."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def start_bench(url: str, iterations: int) -> subprocess.Popen[bytes]:
    argv = ["bench", "--backend", "ollama", "--url", url, "--iterations", str(iterations), "--warmup", "0", "--quiet"]
    return subprocess.Popen([sys.executable, "-m", "llamaburn", *argv], env=env())


def test_sigkill_mid_run_keeps_completed_iterations_and_marks_the_run_interrupted() -> None:
    with FakeServer(Script(tokens=20, tokens_per_s=100)) as server:
        bench = start_bench(server.url, 50)
        store = Store()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = store.list_runs()
            if runs and len(store.iterations(runs[0].id)) >= 2:
                break
            time.sleep(0.05)
        bench.send_signal(signal.SIGKILL)
        bench.wait(timeout=10)
    [run] = store.list_runs()
    kept = len(store.iterations(run.id))
    assert kept >= 2 and run.status == "running"  # as the killed process left it

    result = subprocess.run(
        [sys.executable, "-m", "llamaburn", "history", "--json"], env=env(), capture_output=True, text=True, check=True
    )
    [listed] = json.loads(result.stdout)
    assert listed["status"] == "failed" and listed["error"].startswith("interrupted")
    assert len(Store().iterations(run.id)) == kept  # nothing measured was lost


def test_runs_of_live_processes_are_left_running() -> None:
    with FakeServer(Script(tokens=200, tokens_per_s=100)) as server:
        bench = start_bench(server.url, 3)
        try:
            deadline = time.monotonic() + 30
            while not Store().list_runs() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [r.status for r in Store().list_runs()] == ["running"]  # a second process does not touch it
        finally:
            bench.send_signal(signal.SIGINT)
            assert bench.wait(timeout=10) == 130
    assert [r.status for r in Store().list_runs()] == ["cancelled"]
