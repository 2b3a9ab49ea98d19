"""Many hosts and processes writing one history: concurrent bench processes on one database, one of them
SIGKILLed, leave a consistent history; crash-marking ("interrupted") only touches this host's dead runs."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

from llamaburn.storage.store import ENV_URL, Store
from llamaburn.testing import FakeServer, Script
from tests.test_store import make_run

ITERATIONS = 4


def start_bench(server_url: str, db_url: str, iterations: int) -> subprocess.Popen[bytes]:
    argv = ["bench", "--backend", "ollama", "--url", server_url, "--iterations", str(iterations), "--warmup", "0"]
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {ENV_URL: db_url}
    return subprocess.Popen(
        [sys.executable, "-m", "llamaburn", *argv, "--quiet"], env=environment, stdout=subprocess.DEVNULL
    )


def test_four_concurrent_benches_one_killed_leave_a_consistent_history(store_url: str) -> None:
    """Four processes start at once on a fresh database (each its own server, so no server lock applies)."""
    with ExitStack() as stack:
        servers = [stack.enter_context(FakeServer(Script(tokens=20, tokens_per_s=200))) for _ in range(4)]
        victim = start_bench(servers[0].url, store_url, 200)
        others = [start_bench(server.url, store_url, ITERATIONS) for server in servers[1:]]
        watcher = Store(store_url)  # a fifth opener, racing the four for the fresh schema
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            mine = [r for r in watcher.list_runs() if r.system.get("pid") == victim.pid]
            if mine and len(watcher.iterations(mine[0].id)) >= 2:
                break
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert [process.wait(timeout=120) for process in others] == [0, 0, 0]

    store = Store(store_url)  # opening it marks the killed run, a dead process of this host
    runs = {run.system["pid"]: run for run in store.list_runs()}
    assert sorted(runs) == sorted([victim.pid] + [process.pid for process in others])
    killed = runs.pop(victim.pid)
    assert killed.status == "failed" and (killed.error or "").startswith("interrupted")
    kept = [it.index for it in store.iterations(killed.id)]
    assert len(kept) >= 2 and len(set(kept)) == len(kept)
    for run in runs.values():
        assert run.status == "completed"
        assert sorted(it.index for it in store.iterations(run.id) if not it.warmup) == list(range(1, ITERATIONS + 1))


@pytest.mark.parametrize("pid", [1, 2**22 + 1], ids=["live-pid", "dead-pid"])
def test_another_hosts_running_runs_are_never_marked(store_url: str, pid: int) -> None:
    store = Store(store_url)
    store.create_run(make_run("theirs", system={"hostname": f"not-{platform.node()}", "pid": pid}))
    store.create_run(make_run("mine", minutes=1, system={"hostname": platform.node(), "pid": 2**22 + 1}))

    assert Store(store_url).mark_interrupted() == 0  # the open already marked ours; never theirs
    assert store.get_run("theirs").status == "running"
    assert store.get_run("mine").status == "failed"
