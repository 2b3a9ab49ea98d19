"""4. Client footprint: what ``llamaburn bench`` costs the machine while it measures a 50 tok/s server.

``llamaburn bench`` runs as a subprocess (progress on, written to /dev/null; history to a temporary
SQLite file) against llamaburn/testing/servers.py's server in another process. ``os.wait4`` gives its CPU time (user +
system), /proc's ``VmHWM`` its peak RSS. Start-up (imports, registry, store) is paid once per command,
so the steady-state cost is the difference between a K-iteration and a 1-iteration run:
(cpu_K - cpu_1) / (wall_K - wall_1).

Two floors put that figure in proportion on the machine at hand: the same stream read by the minimal
reference client (raw httpx, one keep-alive connection, no bus, no store), and an asyncio timer wake-up
that does nothing, whose cost is the kernel's and the event loop's, paid once per chunk by any client.
Both are thread CPU time (``CLOCK_THREAD_CPUTIME_ID``) of this process's event loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.clients import ReferenceClient, Request
from benchmarks.common import Row, Stat
from benchmarks.servers import MODEL, fake_server

SECTION = "4. Footprint"
RATE = 50.0
CORE_BAR_PCT = 5.0


@dataclass(frozen=True, slots=True)
class Usage:
    wall_s: float
    cpu_s: float
    max_rss_mib: float


def bench_command() -> list[str]:
    """The installed console script itself (not a pyenv shim in front of it), else ``python -m llamaburn``."""
    script = Path(sysconfig.get_path("scripts")) / "llamaburn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "llamaburn"]


def _high_water_mib(pid: int) -> float | None:
    """``VmHWM``: the peak RSS of the program now running in ``pid`` (it restarts at exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def bench_once(url: str, iterations: int, tokens: int, database: Path) -> Usage:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env["LLAMABURN_DB_URL"] = f"sqlite:///{database}"
    command = [*bench_command(), "bench", "--backend", "ollama", "--url", url, "--model", MODEL,
               "--iterations", str(iterations), "--warmup", "0", "--max-tokens", str(tokens), "--prompt", "hi"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    # Not wait4's ru_maxrss: a forked child is charged its parent's pages until it execs, and this
    # suite's parent holds a loaded model. VmHWM is sampled until the process exits.
    peak = 0.0
    while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        peak = max(peak, _high_water_mib(process.pid) or 0.0)
        time.sleep(0.02)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` exited with {process.returncode}")
    return Usage(wall, usage.ru_utime + usage.ru_stime, peak)


def measure(tokens: int, iterations: int, repeats: int) -> tuple[list[Usage], list[Usage]]:
    """Alternating 1-iteration and K-iteration runs, ``repeats`` of each."""
    ones, manys = [], []
    database = Path(tempfile.mkdtemp(prefix="llamaburn-footprint-")) / "history.db"
    with fake_server(tokens=tokens, tokens_per_s=RATE) as server:
        bench_once(server.url, 1, 10, database)  # warm the OS file cache and create the database
        for _ in range(repeats):
            ones.append(bench_once(server.url, 1, tokens, database))
            manys.append(bench_once(server.url, iterations, tokens, database))
    return ones, manys


async def floors(tokens: int, repeats: int) -> tuple[list[float], list[float]]:
    """The reference client's CPU as % of a core at 50 tok/s, and the CPU ms of one idle timer wake-up."""
    reference_pct, wake_ms = [], []
    request = Request(model=MODEL, prompt="hi", max_tokens=tokens)
    with fake_server(tokens=tokens, tokens_per_s=RATE) as server:
        client = ReferenceClient(server.url, "ollama")
        try:
            await client.measure(Request(model=MODEL, prompt="hi", max_tokens=10))  # connect once
            for _ in range(repeats):
                cpu, wall = time.thread_time(), time.perf_counter()
                await client.measure(request)
                reference_pct.append((time.thread_time() - cpu) / (time.perf_counter() - wall) * 100)
                cpu, wakes = time.thread_time(), 100
                for _ in range(wakes):
                    await asyncio.sleep(1 / RATE)
                wake_ms.append((time.thread_time() - cpu) / wakes * 1000)
        finally:
            await client.aclose()
    return reference_pct, wake_ms


def rows(tokens: int, iterations: int, ones: list[Usage], manys: list[Usage]) -> list[Row]:
    steady_pct = [(m.cpu_s - o.cpu_s) / (m.wall_s - o.wall_s) * 100 for o, m in zip(ones, manys, strict=True)]
    per_1k_steady = [(m.cpu_s - o.cpu_s) / ((iterations - 1) * tokens) * 1000 for o, m in zip(ones, manys, strict=True)]
    per_1k_total = [m.cpu_s / (iterations * tokens) * 1000 for m in manys]
    steady = Stat.of(steady_pct)
    name = f"`llamaburn bench`, 50 tok/s server, {tokens} tokens/iteration"
    return [
        Row(SECTION, f"{name}: steady-state CPU", steady, "% of a core", f"< {CORE_BAR_PCT:g}%",
            steady.median < CORE_BAR_PCT),
        Row(SECTION, f"{name}: CPU s per 1,000 tokens, steady state", Stat.of(per_1k_steady), "s"),
        Row(SECTION, f"{name}: CPU s per 1,000 tokens, whole {iterations}-iteration command incl. start-up",
            Stat.of(per_1k_total), "s"),
        Row(SECTION, f"{name}: CPU s of a whole 1-iteration command (start-up + 1 iteration)",
            Stat.of([o.cpu_s for o in ones]), "s"),
        Row(SECTION, f"{name}: peak RSS", Stat.of([m.max_rss_mib for m in manys]), "MiB"),
    ]


def run(quick: bool) -> list[Row]:
    tokens, iterations, repeats = (100, 3, 1) if quick else (250, 5, 3)
    ones, manys = measure(tokens, iterations, repeats)
    reference_pct, wake_ms = asyncio.run(floors(tokens, repeats))
    return [
        *rows(tokens, iterations, ones, manys),
        Row(SECTION, f"floor: reference httpx client reading the same {tokens}-token stream at 50 tok/s, CPU",
            Stat.of(reference_pct), "% of a core"),
        Row(SECTION, "floor: one idle asyncio timer wake-up, CPU (paid once per chunk by any client)",
            Stat.of(wake_ms), "ms"),
    ]
