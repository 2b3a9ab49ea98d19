"""A sweep killed with SIGKILL mid-cell keeps its finished cells; ``llamaburn sweep --resume ID`` runs only
the missing ones, and history ends with every cell exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from llamaburn.storage.records import RunRecord
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.cli import assert_one_error_line, cli

OTHER = "qwen2.5:0.5b"
STREAMS = [1, 2, 3, 1, 2, 3]  # two models x concurrency 1,2,3: the streams of each cell, in grid order


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def cells_in(runs: list[RunRecord]) -> dict[int, list[RunRecord]]:
    found: dict[int, list[RunRecord]] = {}
    for run in runs:
        found.setdefault(run.config["sweep"]["cell"], []).append(run)
    return found


def test_a_sweep_killed_mid_cell_resumes_with_only_its_missing_cells(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "--backend", "ollama", "--iterations", "1", "--warmup", "0", "--quiet",
            "--models", f"{DEFAULT_MODEL},{OTHER}", "--concurrency", "1,2,3"]
    # 30 tokens at 100 tok/s: each cell takes about 0.3 s, so the kill lands inside a cell
    with FakeServer(Script(tokens=30, tokens_per_s=100), models=(DEFAULT_MODEL, OTHER)) as fake:
        sweep = subprocess.Popen([sys.executable, "-m", "llamaburn", *argv, "--url", fake.url], env=env())
        store = Store()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.sweep_runs(runs[0].sweep_id or "") if (runs := store.list_runs(limit=1)) else []
            finished = [r for r in runs if "result" in r.config["sweep"]]
            if len(finished) >= 3 and any(r.status == "running" and r.config["sweep"]["cell"] >= 2 for r in runs):
                break  # cells 0 and 1 finished (1 + 2 streams), a later one measuring
            time.sleep(0.01)
        sweep.send_signal(signal.SIGKILL)
        assert sweep.wait(timeout=10) == -signal.SIGKILL
        sweep_id = runs[0].sweep_id
        assert sweep_id is not None
        killed = cells_in(Store().sweep_runs(sweep_id))
        kept = {index for index, streams in killed.items() if all("result" in r.config["sweep"] for r in streams)}
        cut = set(killed) - kept
        assert kept >= {0, 1} and len(cut) == 1, (kept, cut)
        assert {r.status for index in cut for r in killed[index]} == {"failed"}  # marked interrupted
        kept_ids = {r.id for index in kept for r in killed[index]}
        chats_before = len([r for r in fake.requests if r.path == "/api/chat"])

        code, document, err = cli(capsys, "sweep", "--resume", sweep_id, "--json")
        chats = len([r for r in fake.requests if r.path == "/api/chat"]) - chats_before

    assert code == 0 and document is not None, err
    assert document["sweep_id"] == sweep_id and [c["index"] for c in document["cells"]] == list(range(6))
    assert chats == sum(STREAMS[index] for index in range(6) if index not in kept)  # only the missing cells
    final = cells_in(Store().sweep_runs(sweep_id))
    assert sorted(final) == list(range(6))
    assert [len(final[index]) for index in range(6)] == STREAMS  # each cell once: the cut one's runs are gone
    assert {r.status for streams in final.values() for r in streams} == {"completed"}
    assert all("result" in r.config["sweep"] for streams in final.values() for r in streams)
    assert kept_ids <= {r.id for streams in final.values() for r in streams}  # the finished cells as they were
    assert [c["coordinates"]["model"] for c in document["cells"]] == [DEFAULT_MODEL] * 3 + [OTHER] * 3


def test_resuming_an_unknown_sweep_or_with_new_axes_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "sweep", "--resume", "no-such-sweep")
    assert code == 2
    assert_one_error_line(err, "no sweep 'no-such-sweep' in history")
    code, _, err = cli(capsys, "sweep", "--resume", "x", "--concurrency", "1,2")
    assert code == 2
    assert_one_error_line(err, "--resume: the sweep's axes come from history")
