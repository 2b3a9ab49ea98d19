"""One run per model server across processes: another process holding a server's lock refuses (or queues)
a run here, and its death, however it dies, frees the server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import RunInProgressError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.service.server_lock import ServerLock
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

HOLDER = """
import sys, time
from llamaburn.service.server_lock import ServerLock
lock = ServerLock("Ollama", sys.argv[1], "run-of-another-process")
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=10, tokens_per_s=500)) as server:
        yield server


@pytest.fixture
def holder(fake: FakeServer) -> Iterator[subprocess.Popen[str]]:
    """Another process measuring ``fake``: it holds the server's lock until it is killed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    process = subprocess.Popen([sys.executable, "-c", HOLDER, fake.url], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    process.kill()
    process.wait()


@pytest.fixture
async def service() -> AsyncIterator[RunService]:
    benchmarks = RunService(load_registry(), Store())
    yield benchmarks
    await benchmarks.aclose()


def test_a_held_server_is_refused_naming_the_other_run_and_process(
    fake: FakeServer, holder: subprocess.Popen[str]
) -> None:
    lock = ServerLock("Ollama", fake.url, "mine")
    with pytest.raises(RunInProgressError) as refused:
        lock.acquire()
    assert str(refused.value) == (
        f"a run is already in progress on Ollama at {fake.url} (run run-of-another-process, in another llamaburn "
        f"process, pid {holder.pid}): wait for it or cancel it"
    )
    assert refused.value.run_id == "run-of-another-process" and not lock.held
    assert ServerLock("Ollama", f"{fake.url}/", "mine").path == lock.path  # one server, one lock
    with ServerLock("Ollama", "http://127.0.0.1:1", "mine") as other:  # another server is free
        assert other.held


def test_a_killed_holder_frees_the_server(fake: FakeServer, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with ServerLock("Ollama", fake.url, "mine") as lock:
        assert lock.held
        assert '"run_id": "mine"' in lock.path.read_text()
    assert not lock.held
    with ServerLock("Ollama", fake.url, "again"):  # released on exit, so it can be taken again
        pass


def test_runs_in_one_process_share_the_lock_and_it_goes_with_the_last(fake: FakeServer) -> None:
    """Inside a process the service orders runs (a run just finished may still be storing while the next
    starts), so the lock only stands between processes, and holds until the last of them lets go."""
    first, second = ServerLock("Ollama", fake.url, "one"), ServerLock("Ollama", fake.url, "two")
    first.acquire()
    second.acquire()
    first.release()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    probe = [sys.executable, "-c", HOLDER.replace('print("held", flush=True)\ntime.sleep(600)', ""), fake.url]
    refused = subprocess.run(probe, env=env, capture_output=True, text=True)
    assert "(run two, in another llamaburn process" in refused.stderr
    second.release()
    assert subprocess.run(probe, env=env, capture_output=True, text=True).returncode == 0


def test_an_unwritable_data_directory_leaves_runs_unguarded_not_broken(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with ServerLock("Ollama", "http://127.0.0.1:11434", "mine", directory=blocked / "locks") as lock:
        assert lock.held


async def test_the_app_refuses_a_server_another_process_measures_then_queues_behind_it(
    service: RunService, fake: FakeServer, holder: subprocess.Popen[str]
) -> None:
    text = RunRequest(inputs={"iterations": 2, "warmup": 0}, backend="ollama", url=fake.url, model=DEFAULT_MODEL)
    with pytest.raises(RunInProgressError, match="in another llamaburn process") as refused:
        await service.start(text)
    assert refused.value.run_id == "run-of-another-process"
    assert service.runs == {} and service.store.count_runs() == 0  # nothing started, nothing stored

    queued = await service.start(text, queue=True)
    await asyncio.sleep(0.6)  # two polls of the lock: still waiting, nothing sent to the server
    assert queued.status == "pending" and not any(r.path == "/api/chat" for r in fake.requests)
    holder.kill()
    holder.wait()
    await asyncio.wait_for(queued.done.wait(), timeout=10)
    assert queued.status == "completed" and len(queued.iterations) == 2
