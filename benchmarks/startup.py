"""6. Start-up: the CLI's ``--help`` pages, and the UI's first page, timed from process start.

Like hyperfine: one warm-up run, then repeats, each a fresh process (``subprocess.run``). The UI is
started as a user would (``python -m llamaburn --no-show --port P``, in a scratch directory, history in
a temporary file, ``PYTEST_CURRENT_TEST`` removed) and polled until ``GET /`` answers 200.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import Row, Stat
from benchmarks.footprint import bench_command

SECTION = "6. Start-up"
HELP_BAR_S = 0.5
UI_BAR_S = 3.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(extra)
    return env


def command_s(command: list[str], repeats: int) -> Stat:
    samples = []
    for index in range(repeats + 1):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env())
        if index:  # the first run only warms the file cache
            samples.append(time.perf_counter() - started)
    return Stat.of(samples)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ui_first_page_s(timeout_s: float = 30.0) -> float:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="llamaburn-ui-") as directory:
        env = clean_env(LLAMABURN_DB_URL=f"sqlite:///{Path(directory) / 'history.db'}")
        command = [sys.executable, "-m", "llamaburn", "--no-show", "--port", str(port)]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=directory, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(timeout=5) as client:
                while time.perf_counter() - started < timeout_s:
                    try:
                        if client.get(f"http://127.0.0.1:{port}/").status_code == 200:
                            return time.perf_counter() - started
                    except httpx.TransportError:
                        pass
                    if process.poll() is not None:
                        raise RuntimeError(f"the UI exited with {process.returncode} before serving /")
                    time.sleep(0.01)
            raise RuntimeError(f"the UI did not serve / within {timeout_s:g} s")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(quick: bool) -> list[Row]:
    repeats, ui_repeats = (3, 2) if quick else (15, 7)
    cli = bench_command()
    python = command_s([sys.executable, "-c", "pass"], repeats)
    help_s = command_s([*cli, "--help"], repeats)
    bench_help_s = command_s([*cli, "bench", "--help"], repeats)
    ui_s = Stat.of([ui_first_page_s() for _ in range(ui_repeats)])
    return [
        Row(SECTION, "`python -c pass` (interpreter start, for scale)", python, "s"),
        Row(SECTION, "`llamaburn --help`", help_s, "s", f"< {HELP_BAR_S:g} s", help_s.median < HELP_BAR_S),
        Row(SECTION, "`llamaburn bench --help`", bench_help_s, "s", f"< {HELP_BAR_S:g} s",
            bench_help_s.median < HELP_BAR_S),
        Row(SECTION, "UI: process start to HTTP 200 on /", ui_s, "s", f"< {UI_BAR_S:g} s", ui_s.median < UI_BAR_S),
    ]
