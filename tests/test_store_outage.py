"""A store that stops answering mid-run: a real PostgreSQL stopped under a real ``llamaburn bench``, and a
real full disk (a tmpfs that is filled) under SQLite. The measurement goes on; every completed iteration
reaches history once the store answers again, or a file named in one line that ``llamaburn import`` takes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llamaburn.cli import main
from llamaburn.storage.spool import Spool
from llamaburn.storage.store import ENV_URL, INTERRUPTED, Store
from llamaburn.testing import FakeServer, Script
from tests import postgres
from tests.test_store import make_iteration, make_run

ITERATIONS = 8
SCRIPT = Script(tokens=20, tokens_per_s=60)  # about a third of a second per iteration
SAVED_IN = re.compile(r"it is saved in (\S+): store it with `llamaburn import \1` once the database answers")


def start_bench(server: FakeServer, db_url: str, environment: dict[str, str] | None = None) -> subprocess.Popen[str]:
    argv = ["bench", "--backend", "ollama", "--url", server.url, "--iterations", str(ITERATIONS), "--warmup", "1"]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {ENV_URL: db_url} | (environment or {})
    return subprocess.Popen(
        [sys.executable, "-m", "llamaburn", *argv, "--quiet", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        time.sleep(0.05)


def stored_iterations(url: str) -> int:
    store = Store(url)
    runs = store.list_runs()
    count = len(store.iterations(runs[0].id)) if runs else 0
    store.engine.dispose()
    return count


def assert_whole(url: str, run_id: str) -> None:
    """The run is completed in history with its warmup and every measured iteration, each once."""
    store = Store(url)
    run = store.get_run(run_id)
    assert run.status == "completed" and run.summary["tps"]["mean"] > 0
    assert [(it.warmup, it.index) for it in store.iterations(run_id)] == [(True, 1)] + [
        (False, index) for index in range(1, ITERATIONS + 1)
    ]
    store.engine.dispose()


@pytest.fixture
def cluster() -> Iterator[postgres.Cluster]:
    if not postgres.available():
        pytest.skip(postgres.skip_reason())
    with postgres.stoppable_cluster() as running:
        yield running


@postgres.needs_postgres()
def test_postgresql_stopped_mid_run_then_back_gets_every_iteration(cluster: postgres.Cluster) -> None:
    url = postgres.fresh_database(cluster.url)
    with FakeServer(SCRIPT) as server:
        bench = start_bench(server, url)
        wait_for(lambda: stored_iterations(url) >= 3)
        cluster.stop()
        time.sleep(1.5)  # several iterations complete while nothing answers
        cluster.start()
        out, err = bench.communicate(timeout=120)

    assert bench.returncode == 0, err
    result = json.loads(out)
    assert "the history database failed" in err and result["unsaved"] is None
    assert len(result["iterations"]) == ITERATIONS
    assert_whole(url, result["run_id"])


@postgres.needs_postgres()
def test_postgresql_that_never_answers_leaves_a_file_that_import_completes(
    cluster: postgres.Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.fresh_database(cluster.url)
    with FakeServer(SCRIPT) as server:
        bench = start_bench(server, url)
        wait_for(lambda: stored_iterations(url) >= 3)
        cluster.stop()
        out, err = bench.communicate(timeout=120)

    assert bench.returncode == 1
    result = json.loads(out)
    assert len(result["iterations"]) == ITERATIONS  # and --json printed every one
    saved = SAVED_IN.search(err.splitlines()[-1])
    assert saved, err
    path = Path(saved.group(1))
    assert path == tmp_path / "data" / "llamaburn" / "unsaved" / f"{result['run_id']}.json" == Path(result["unsaved"])

    cluster.start()
    monkeypatch.setenv(ENV_URL, url)
    assert main(["import", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "imported 1 run, skipped 0 already here"
    assert_whole(url, result["run_id"])
    assert main(["import", str(path)]) == 0  # idempotent: the second time adds nothing
    assert capsys.readouterr().out.strip() == "imported 0 runs, skipped 1 already here"


@contextmanager
def small_disk(directory: Path, size: str = "8m") -> Iterator[Path]:
    """A real filesystem of ``size`` (tmpfs), mounted for the test: root only."""
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mount, which needs root: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to its last byte; returns the filler file, whose removal frees the space."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(descriptor)
    return filler


@pytest.mark.parametrize("frees_up", [True, False], ids=["space-comes-back", "stays-full"])
def test_disk_full_mid_run_on_sqlite_loses_no_iteration(
    frees_up: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk / 'history.db'}"
        Store(url).engine.dispose()  # the schema, made while there is room
        temp = tmp_path / "tmp"
        temp.mkdir()
        with FakeServer(SCRIPT) as server:
            bench = start_bench(server, url, {"XDG_DATA_HOME": str(disk / "data"), "TMPDIR": str(temp)})
            wait_for(lambda: stored_iterations(url) >= 3)
            filler = fill(disk)
            if frees_up:
                time.sleep(1.5)
                filler.unlink()
            out, err = bench.communicate(timeout=120)
        result = json.loads(out)
        assert len(result["iterations"]) == ITERATIONS
        if frees_up:
            assert bench.returncode == 0, err
            assert "the history database failed" in err and "disk is full" in err
        else:
            assert bench.returncode == 1
            saved = SAVED_IN.search(err.splitlines()[-1])
            assert saved, err
            path = Path(saved.group(1))  # the data directory is on the full disk: the temp directory took it
            assert path == temp / "llamaburn-unsaved" / f"{result['run_id']}.json"
            filler.unlink()
            monkeypatch.setenv(ENV_URL, url)
            assert main(["import", str(path)]) == 0
            assert capsys.readouterr().out.strip() == "imported 1 run, skipped 0 already here"
        assert_whole(url, result["run_id"])


def test_a_spooled_run_goes_to_the_temp_directory_when_the_data_directory_cannot_take_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")  # so <data dir>/unsaved cannot be made: ENOTDIR, as a full disk gives ENOSPC
    monkeypatch.setenv("XDG_DATA_HOME", str(blocked))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    spool = Spool("run-a")

    path = spool.write({"id": "run-a", "iterations": []})

    assert path == tmp_path / "tmp" / "llamaburn-unsaved" / "run-a.json"
    assert json.loads(path.read_text()) == [{"id": "run-a", "iterations": []}]
    spool.remove()
    assert not path.exists()


@pytest.mark.parametrize("stored_status", ["running", "interrupted", "completed"])
def test_import_completes_only_an_unfinished_stored_run(store_url: str, stored_status: str) -> None:
    store = Store(store_url)
    status, error = ("failed", INTERRUPTED) if stored_status == "interrupted" else (stored_status, None)
    store.create_run(make_run("run-a", status=status, error=error))
    store.add_iteration(make_iteration("run-a", 1, output="one"))
    spooled = {
        **make_run("run-a", status="completed", summary={"tps": {"mean": 5.0}}).model_dump(mode="json"),
        "iterations": [
            {"index": index, "warmup": False, "prompt": "", "output": f"#{index}", "metrics": {}} for index in (1, 2, 3)
        ],
    }

    assert store.import_runs([spooled]) == ((0, 1) if stored_status == "completed" else (1, 0))
    assert store.import_runs([spooled]) == (0, 1)  # idempotent

    run = store.get_run("run-a")
    outputs = [it.output for it in store.iterations("run-a")]
    if stored_status == "completed":  # a finished run is the database's to keep as it is
        assert (run.summary, outputs) == ({}, ["one"])
    else:
        assert (run.status, run.error, run.summary, outputs) == ("completed", None, {"tps": {"mean": 5.0}},
                                                                 ["one", "#2", "#3"])
