"""8. Telemetry: what the machine sampler (``engine/telemetry.py``) costs, in percent of one core.

The sampler runs as it does during a run: every 250 ms, the real psutil (CPU per core, RAM, and this process
as the model server, found by the port a local fake server listens on) and a fake NVML module (pynvml's API)
standing in for a GPU, so the figure includes the NVML calls' Python side. Its cost is the thread's own CPU
time (``time.thread_time()`` read inside it, its wake-ups included) over the wall time: cost = cpu_s / wall_s.
The bar is the issue's: under 1 % of a core. The one-off start (NVML init, the port-to-pid lookup, which reads
every process's sockets) is reported apart.
"""

from __future__ import annotations

import time

from benchmarks.common import Row, Stat
from llamaburn.engine import telemetry
from llamaburn.engine.telemetry import INTERVAL_S, Sampler
from llamaburn.testing import FakeServer
from llamaburn.testing.nvml import FakeDevice, FakeNvml

SECTION = "8. Telemetry"
BAR_PCT = 1.0


def sample_for(seconds: float, url: str) -> tuple[float, float, int]:
    """One sampler's (steady CPU share in %, start-up CPU in ms, samples taken) over ``seconds``."""
    telemetry._found.clear()  # each repeat pays the port scan, as a run's first sampler does
    sampler = Sampler(url=url, nvml=FakeNvml(FakeDevice(), FakeDevice()))
    sampler.start()
    while not sampler.samples:  # the start-up is done once the first sample is in
        time.sleep(0.01)
    start_cpu_s, steady_from = sampler.cpu_s, time.perf_counter()
    time.sleep(seconds)
    steady_cpu_s, steady_wall_s = sampler.cpu_s - start_cpu_s, time.perf_counter() - steady_from
    sampler.stop()
    sampler.join(2 * INTERVAL_S)
    assert sampler.samples[-1].server_rss_mib is not None, "the sampler did not find the server's process"
    return steady_cpu_s / steady_wall_s * 100, start_cpu_s * 1000, len(sampler.samples)


def run(quick: bool) -> list[Row]:
    seconds, repeats = (2.0, 3) if quick else (10.0, 5)
    with FakeServer() as server:
        results = [sample_for(seconds, server.url) for _ in range(repeats)]
    share = Stat.of([r[0] for r in results])
    return [
        Row(SECTION, f"sampler CPU, every {INTERVAL_S * 1000:.0f} ms, psutil + NVML (fake, 2 GPUs) + server pid",
            share, "% of a core", f"< {BAR_PCT:g}%", share.median < BAR_PCT,
            note=f"{repeats} x {seconds:g} s, {results[0][2]} samples each"),
        Row(SECTION, "sampler start: NVML init + the port-to-pid lookup, once per run",
            Stat.of([r[1] for r in results]), "ms CPU"),
    ]
