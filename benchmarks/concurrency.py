"""7. Concurrency: a sweep point's simultaneous streams against the fake server in processes of its own.

At 1, 8 and 32 streams of 100 tokens at 100 tok/s each (TTFT 50 ms on the fake's clock), how close each
stream's TPS and TTFT stay to the fake's, the aggregate throughput, and the client's CPU (this process's
``time.process_time()``, the servers being other processes) per output token and as a share of one core.

To tell the fake's lateness from the client's, 32 streams are measured twice: against one fake process,
and against ``SPLIT`` fake processes sharing one port (``SO_REUSEPORT``: the kernel spreads the streams'
connections over them). Each fake reports how late it handed its chunks to the socket (first tokens apart)
and its own CPU: a TTFT error that the fake's own lateness explains, and that shrinks when the fake is
split, is the fake's, not the client's.

Last, a sweep of ``CELLS`` one-token cells, stored as a user's would be: the wall time outside the cells'
own request windows (preparing each point, describing the model, recording, the lock) is LlamaBurn's
overhead per sweep.
"""

from __future__ import annotations

import socket
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.common import Row, Stat
from benchmarks.servers import MODEL, fake_server
from llamaburn.engine.registry import load_registry
from llamaburn.service.assembly import BackendPool
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweeper import Sweep
from llamaburn.storage.store import Store

SECTION = "7. Concurrency"
RATE, TTFT_MS, TOKENS = 100.0, 50.0, 100
TPS_BAR_PCT, TTFT_BAR_MS, CPU_BAR_PCT = 1.0, 5.0, 50.0
SPLIT = 4
CELLS, OVERHEAD_BAR_S = 100, 1.0


def runqueue_wait_s() -> float:
    """How long this process has been runnable but waiting for a CPU (Linux ``/proc/self/schedstat``, summed
    over its threads' scheduler stats as the kernel keeps them for the process): what a loaded machine
    adds to every wake-up of the client, and so to its TTFT, whatever the client itself costs."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def point(url: str, concurrency: int) -> dict[str, float]:
    """One sweep point (1 warmup, 2 counted requests per stream, nothing stored), and what it cost."""
    inputs = {"iterations": 2, "warmup": 1, "max_tokens": TOKENS}
    base = RunRequest(inputs=inputs, backend="ollama", url=url, model=MODEL, save=False, read_timeout=None)
    sweep = Sweep(SweepRequest(base=base, concurrency=[concurrency]), load_registry())
    backends = BackendPool(sweep.registry)
    await sweep.check_servers(backends)  # the model's facts, before the clock: only the point is timed
    cpu, wall, waited = time.process_time(), time.perf_counter(), runqueue_wait_s()
    try:
        (cell,) = [found async for found in sweep.cells(backends, None)]
    finally:
        await backends.aclose()
    cpu, wall, waited = time.process_time() - cpu, time.perf_counter() - wall, runqueue_wait_s() - waited
    tps = [stream["tps"]["mean"] for stream in cell.streams]
    ttft = [stream["ttft_ms"]["mean"] for stream in cell.streams]
    return {
        "tps_error_pct": max(abs(v - RATE) / RATE * 100 for v in tps),
        "ttft_error_ms": max(abs(v - TTFT_MS) for v in ttft),
        "aggregate_tps": float(cell.aggregate["aggregate_tps"]),
        "cpu_ms_per_token": cpu * 1000 / cell.aggregate["output_tokens"],
        "cpu_pct": cpu / wall * 100,
        "waiting_pct": waited / wall * 100,
        "wall_s": wall,
    }


async def measured(concurrency: int, processes: int, repeats: int) -> tuple[list[dict[str, float]], list[Any]]:
    """``repeats`` points against ``processes`` fakes, and each fake's pacing report."""
    script = {"tokens": TOKENS, "tokens_per_s": RATE, "ttft_s": TTFT_MS / 1000}
    port = free_port() if processes > 1 else 0
    with ExitStack() as stack:
        fakes = [stack.enter_context(fake_server(port=port, **script)) for _ in range(processes)]
        samples = [await point(fakes[0].url, concurrency) for _ in range(repeats)]
    return samples, [fake.report for fake in fakes]


def fake_rows(name: str, reports: list[Any], wall_s: float) -> list[Row]:
    """The fakes' own lateness (the worst process's) and CPU share over the points' wall time."""
    first = max((r["first"]["p95_ms"] or 0.0) for r in reports)
    chunk = max((r["chunk"]["p95_ms"] or 0.0) for r in reports)
    worst = max((r["first"]["max_ms"] or 0.0) for r in reports)
    cpu = sum(r["cpu_s"] for r in reports) / wall_s * 100
    return [
        Row(SECTION, f"{name}: fake's first-token lateness p95 (max)", first, "ms", note=f"max {worst:.2f} ms"),
        Row(SECTION, f"{name}: fake's chunk lateness p95", chunk, "ms"),
        Row(SECTION, f"{name}: fake CPU (all its processes, start-up included)", cpu, "% of a core"),
    ]


def client_rows(name: str, samples: list[dict[str, float]]) -> list[Row]:
    def stat(key: str) -> Stat:
        return Stat.of([sample[key] for sample in samples])

    tps, ttft, cpu = stat("tps_error_pct"), stat("ttft_error_ms"), stat("cpu_pct")
    return [
        Row(SECTION, f"{name}: worst stream's TPS error", tps, "%", f"< {TPS_BAR_PCT:g} %", tps.median < TPS_BAR_PCT),
        Row(SECTION, f"{name}: worst stream's TTFT error", ttft, "ms", f"< {TTFT_BAR_MS:g} ms",
            ttft.median < TTFT_BAR_MS),
        Row(SECTION, f"{name}: aggregate throughput", stat("aggregate_tps"), "tok/s"),
        Row(SECTION, f"{name}: client CPU per output token", stat("cpu_ms_per_token"), "ms"),
        Row(SECTION, f"{name}: client CPU", cpu, "% of a core", f"< {CPU_BAR_PCT:g} %", cpu.median < CPU_BAR_PCT),
        Row(SECTION, f"{name}: client runnable but waiting for a CPU", stat("waiting_pct"), "% of the wall time"),
    ]


async def sweep_overhead(cells: int) -> dict[str, float]:
    """A stored sweep of ``cells`` points of one 1-token request each: its wall time less the cells' own."""
    script = {"tokens": 1, "tokens_per_s": None, "ttft_s": 0.0}
    with fake_server(**script) as fake, tempfile.TemporaryDirectory() as directory:
        base = RunRequest(inputs={"iterations": 1, "warmup": 0, "max_tokens": 1}, backend="ollama", url=fake.url,
                          model=MODEL, read_timeout=None)
        settings = {"temperature": [round(index / cells, 4) for index in range(cells)]}
        sweep = Sweep(SweepRequest(base=base, settings=settings), load_registry())
        backends, store = BackendPool(sweep.registry), Store(f"sqlite:///{Path(directory) / 'history.db'}")
        started = time.perf_counter()
        try:
            found = [cell async for cell in sweep.cells(backends, store)]
        finally:
            await backends.aclose()
        wall = time.perf_counter() - started
    inside = sum(cell.aggregate["wall_ms"] for cell in found) / 1000
    return {"overhead_s": wall - inside, "per_cell_ms": (wall - inside) / len(found) * 1000, "wall_s": wall}


async def run(quick: bool) -> list[Row]:
    repeats = 1 if quick else 3
    rows: list[Row] = []
    for concurrency, processes in ((1, 1), (8, 1), (32, 1), (32, SPLIT)):
        samples, reports = await measured(concurrency, processes, repeats)
        name = f"{concurrency} streams, {processes} fake process{'es' if processes > 1 else ''}"
        rows += client_rows(name, samples) + fake_rows(name, reports, sum(s["wall_s"] for s in samples))
    overheads = [await sweep_overhead(CELLS) for _ in range(1 if quick else 3)]
    total = Stat.of([o["overhead_s"] for o in overheads])
    rows += [
        Row(SECTION, f"sweep of {CELLS} cells: LlamaBurn's own time outside the requests", total, "s",
            f"<= {OVERHEAD_BAR_S:g} s", total.median <= OVERHEAD_BAR_S),
        Row(SECTION, f"sweep of {CELLS} cells: the same per cell", Stat.of([o["per_cell_ms"] for o in overheads]),
            "ms"),
    ]
    return rows
