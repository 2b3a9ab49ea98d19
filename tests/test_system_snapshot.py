"""A run's system snapshot reads the hardware once per process: a sweep of many runs on a machine with an
NVIDIA GPU must not start ``nvidia-smi`` for each of them (tens of ms each, on the event loop)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llamaburn.service import system


@pytest.fixture
def nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real executable named ``nvidia-smi`` first on PATH, counting its calls in a file."""
    calls = tmp_path / "calls"
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'NVIDIA RTX 4090, 24564'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    system.machine.cache_clear()
    yield calls
    system.machine.cache_clear()


def test_the_gpu_is_asked_once_however_many_runs_are_snapshot(nvidia_smi: Path) -> None:
    first = system.snapshot("ollama", "http://127.0.0.1:1", "0.9.0")
    later = [system.snapshot("llama-server", f"http://127.0.0.1:{port}", None) for port in range(2, 12)]
    assert nvidia_smi.read_text().count("x") == 1
    assert first["gpus"] == [{"name": "NVIDIA RTX 4090", "vram_mb": 24564}]
    assert all(snap["gpus"] == first["gpus"] for snap in later)
    # The server's part is each run's own.
    assert (first["backend"], first["backend_url"]) == ("ollama", "http://127.0.0.1:1")
    assert first["backend_version"] == "0.9.0"
    assert later[-1]["backend_url"] == "http://127.0.0.1:11" and later[-1]["backend_version"] is None
    assert first["pid"] == os.getpid()


def test_a_snapshot_is_a_copy_a_run_may_change(nvidia_smi: Path) -> None:
    snap = system.snapshot("ollama", "http://127.0.0.1:1", None)
    snap["gpus"] = []
    snap["hostname"] = "changed"
    again = system.snapshot("ollama", "http://127.0.0.1:1", None)
    assert again["hostname"] != "changed" and again["gpus"]
