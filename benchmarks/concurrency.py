"""7. Concurrency: a sweep point's simultaneous streams against the fake server in its own process.

At 1, 8 and 32 streams of 100 tokens at 100 tok/s each (TTFT 50 ms on the fake's clock), how close each
stream's TPS and TTFT stay to the fake's, the aggregate throughput, and the client's CPU (this process's
``time.process_time()``, the server being another process) per output token and as a share of one core.
"""

from __future__ import annotations

import time

from benchmarks.common import Row, Stat
from benchmarks.servers import MODEL, fake_server
from llamaburn.engine.registry import load_registry
from llamaburn.service.assembly import BackendPool
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweeper import Sweep

SECTION = "7. Concurrency"
RATE, TTFT_MS, TOKENS = 100.0, 50.0, 100
TPS_BAR_PCT, TTFT_BAR_MS, CPU_BAR_PCT = 1.0, 5.0, 50.0


async def point(url: str, concurrency: int) -> dict[str, float]:
    """One sweep point (1 warmup, 2 counted requests per stream, nothing stored), and what it cost."""
    inputs = {"iterations": 2, "warmup": 1, "max_tokens": TOKENS}
    base = RunRequest(inputs=inputs, backend="ollama", url=url, model=MODEL, save=False, read_timeout=None)
    sweep = Sweep(SweepRequest(base=base, concurrency=[concurrency]), load_registry())
    backends = BackendPool(sweep.registry)
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        (cell,) = [found async for found in sweep.cells(backends, None)]
    finally:
        await backends.aclose()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    tps = [stream["tps"]["mean"] for stream in cell.streams]
    ttft = [stream["ttft_ms"]["mean"] for stream in cell.streams]
    return {
        "tps_error_pct": max(abs(v - RATE) / RATE * 100 for v in tps),
        "ttft_error_ms": max(abs(v - TTFT_MS) for v in ttft),
        "aggregate_tps": float(cell.aggregate["aggregate_tps"]),
        "cpu_ms_per_token": cpu * 1000 / cell.aggregate["output_tokens"],
        "cpu_pct": cpu / wall * 100,
    }


async def run(quick: bool) -> list[Row]:
    repeats = 1 if quick else 3
    rows = []
    with fake_server(tokens=TOKENS, tokens_per_s=RATE, ttft_s=TTFT_MS / 1000) as server:
        for concurrency in (1, 8, 32):
            samples = [await point(server.url, concurrency) for _ in range(repeats)]

            def stat(key: str, found: list[dict[str, float]] = samples) -> Stat:
                return Stat.of([sample[key] for sample in found])

            tps, ttft, cpu = stat("tps_error_pct"), stat("ttft_error_ms"), stat("cpu_pct")
            name = f"{concurrency} streams"
            rows += [
                Row(SECTION, f"{name}: worst stream's TPS error", tps, "%", f"< {TPS_BAR_PCT:g} %",
                    tps.median < TPS_BAR_PCT),
                Row(SECTION, f"{name}: worst stream's TTFT error", ttft, "ms", f"< {TTFT_BAR_MS:g} ms",
                    ttft.median < TTFT_BAR_MS),
                Row(SECTION, f"{name}: aggregate throughput", stat("aggregate_tps"), "tok/s"),
                Row(SECTION, f"{name}: client CPU per output token", stat("cpu_ms_per_token"), "ms"),
                Row(SECTION, f"{name}: client CPU", cpu, "% of a core", f"< {CPU_BAR_PCT:g} %",
                    cpu.median < CPU_BAR_PCT),
            ]
    return rows
