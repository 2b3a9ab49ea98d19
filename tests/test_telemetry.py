"""Machine telemetry: the real psutil and a fake NVML module (pynvml's shape), sampled in a thread while a run
measures, stored with each iteration as its summary and samples, and compared across runs."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import psutil
import pytest

from benchmarks.telemetry import sample_for
from llamaburn.engine import telemetry
from llamaburn.engine.registry import load_registry
from llamaburn.engine.telemetry import MIB, SERIES_KEY, Sample, Sampler, SharedSampler, listening_pid, summary
from llamaburn.service.compare import compare, metric_set, samples
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.nvml import FakeDevice, FakeNvml


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=20, ttft_s=0.02, tokens_per_s=40)) as server:  # 0.5 s an iteration
        yield server


@pytest.fixture
async def service() -> AsyncIterator[RunService]:
    benchmarks = RunService(load_registry(), Store())
    yield benchmarks
    await benchmarks.aclose()


def sampled(sampler: Sampler, count: int) -> list[Sample]:
    sampler.start()
    try:
        while len(sampler.samples) < count:
            threading.Event().wait(0.01)
    finally:
        sampler.stop()
        sampler.join(2)
    return sampler.samples


def test_samples_read_psutil_and_nvml_in_their_own_thread() -> None:
    nvml = FakeNvml(FakeDevice(util_pct=30, power_mw=100_000), FakeDevice(util_pct=70, power_mw=50_000, temp_c=80))
    taken = sampled(Sampler(pid=os.getpid(), nvml=nvml, interval_s=0.05), 3)
    first = taken[0]
    assert len(first.per_core_pct) == psutil.cpu_count()
    assert first.cpu_pct == pytest.approx(sum(first.per_core_pct) / len(first.per_core_pct))
    assert 0 < first.ram_used_mib < psutil.virtual_memory().total / MIB
    assert first.server_rss_mib == pytest.approx(psutil.Process().memory_info().rss / MIB, rel=0.5)
    assert first.server_cpu_pct is not None and first.server_cpu_pct >= 0
    # two devices: the busier one's utilisation and the hotter one's temperature, VRAM and power summed
    assert (first.gpu_util_pct, first.gpu_temp_c, first.gpu_power_w) == (70, 80, 150)
    assert first.vram_used_mib == 4 * 1024
    assert not nvml.initialised  # shut down when the sampler stopped
    assert [s.at for s in taken] == sorted(s.at for s in taken)


@pytest.mark.parametrize(
    "nvml", [FakeNvml(library=False), FakeNvml(FakeDevice(util_pct=None, vram_used_bytes=None, power_mw=None,
                                                          temp_c=None))],
    ids=["no-driver", "no-permission"],
)
def test_without_a_gpu_or_its_permission_it_samples_what_it_has(nvml: FakeNvml) -> None:
    first = sampled(Sampler(nvml=nvml, interval_s=0.05), 1)[0]
    assert first.cpu_pct >= 0 and first.ram_used_mib > 0
    assert (first.gpu_util_pct, first.vram_used_mib, first.gpu_power_w, first.gpu_temp_c) == (None,) * 4
    assert first.server_rss_mib is None  # no pid known, no URL to look up
    metrics = summary([first], first.at - 1, first.at, 10)
    assert "gpu_power_w" not in metrics and "j_per_token" not in metrics and metrics["cpu_pct"] == first.cpu_pct


def test_a_local_server_is_found_by_its_listening_port(fake: FakeServer) -> None:
    assert listening_pid(fake.url) == os.getpid()  # the fake server listens in this process
    assert listening_pid("http://192.0.2.1:11434") is None  # not this machine's: no pid to read


def test_summary_means_peaks_energy_per_token_and_the_samples() -> None:
    def at(t: float, cpu: float, power: float) -> Sample:
        return Sample(at=t, cpu_pct=cpu, per_core_pct=(cpu, cpu), ram_used_mib=1000 + t, gpu_power_w=power)

    window = [at(10.25, 20, 100), at(10.5, 40, 200), at(10.75, 60, 150)]
    metrics = summary(window, started=10.0, ended=11.0, output_tokens=30)
    assert (metrics["cpu_pct"], metrics["cpu_pct_peak"]) == (40, 60)
    assert (metrics["gpu_power_w"], metrics["gpu_power_w_peak"]) == (150, 200)
    assert metrics["energy_j"] == 150 * 1.0
    assert metrics["j_per_token"] == 150 / 30
    assert metrics[SERIES_KEY]["t_s"] == [0.25, 0.5, 0.75]
    assert metrics[SERIES_KEY]["per_core_pct"] == [[20, 20], [40, 40], [60, 60]]
    assert "server_rss_mib" not in metrics  # never sampled: left out, not zero
    assert summary([], 0, 1, 10) == {}


def test_a_window_shorter_than_the_interval_gets_the_latest_sample() -> None:
    sampler = Sampler()
    sampler.samples.extend(Sample(at=t, cpu_pct=t, per_core_pct=(t,), ram_used_mib=1) for t in (1.0, 2.0, 3.0))
    assert [s.at for s in sampler.window(1.5, 3.0)] == [2.0, 3.0]
    assert [s.at for s in sampler.window(2.2, 2.4)] == [2.0]
    assert sampler.window(0.1, 0.5) == []


async def test_a_run_stores_each_iterations_telemetry_and_compares_it(
    service: RunService, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(FakeDevice(power_mw=120_000)))
    ids = []
    for _ in range(2):
        request = RunRequest(inputs={"iterations": 2, "warmup": 0}, backend="ollama", url=fake.url, model=DEFAULT_MODEL)
        run = await service.start(request)
        await run.done.wait()
        while service.store.get_run(run.id).status == "running":
            await asyncio.sleep(0.02)
        ids.append(run.id)
    stored = service.store.iterations(ids[0])
    assert len(stored) == 2
    for iteration in stored:
        metrics = iteration.metrics
        assert metrics["gpu_power_w"] == 120 and metrics["gpu_util_pct"] == 40
        assert metrics["server_rss_mib"] > 0  # the fake server is this process, found by its port
        assert metrics["energy_j"] > 0
        assert metrics["j_per_token"] == pytest.approx(metrics["energy_j"] / metrics["output_tokens"])
        series = metrics[SERIES_KEY]
        assert len(series["t_s"]) == len(series["cpu_pct"]) >= 1
        assert all(-0.3 < t < 1.0 for t in series["t_s"])  # within the iteration (or the sample just before)
    runs = service.store.get_runs(ids)
    assert runs[0].summary["j_per_token"]["mean"] > 0 and "cpu_pct_peak" in runs[0].summary
    metrics = metric_set(service.registry.modalities, runs)
    assert {"cpu_pct", "gpu_power_w", "j_per_token"} <= {metric.name for metric in metrics}
    comparison = compare(runs, metrics, samples(service.store, runs))
    row = next(row for row in comparison.rows if row.metric == "j_per_token")
    assert row.direction == "lower" and all(value is not None and value > 0 for value in row.values)


def test_the_sampler_costs_well_under_a_core(fake: FakeServer) -> None:
    """benchmarks/telemetry.py's figure, short and with a bound 5 times looser than its 1 % bar."""
    share_pct, start_ms, count = sample_for(1.5, fake.url)
    assert count >= 5 and start_ms < 1_000
    assert share_pct < 5, f"the sampler used {share_pct:.2f} % of a core"


def test_a_found_server_pid_is_reused_while_it_runs(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    telemetry._found.clear()
    assert listening_pid(fake.url) == os.getpid()
    monkeypatch.setattr(telemetry, "_scan", lambda url: pytest.fail("scanned again"))
    assert listening_pid(fake.url) == os.getpid()  # a sweep's next streams: no second scan


def test_runs_on_one_server_share_one_sampler_until_the_last_stops() -> None:
    """A sweep point's streams are simultaneous runs on one server: one sampling thread serves them all."""

    def sampling() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == "llamaburn-telemetry"]

    before = len(sampling())
    runs = [SharedSampler(pid=os.getpid()) for _ in range(8)]
    for run in runs:
        run.start()
    assert len(sampling()) == before + 1
    deadline = time.monotonic() + 5
    while not runs[0].samples and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runs[0].samples and all(run.samples is runs[0].samples for run in runs)  # one series, shared
    for run in runs[:-1]:
        run.stop()
    time.sleep(0.4)
    assert len(sampling()) == before + 1  # still sampling for the last run
    runs[-1].stop()
    deadline = time.monotonic() + 2
    while len(sampling()) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sampling()) == before
    other = SharedSampler(pid=os.getpid())  # the next run starts a fresh one
    other.start()
    assert len(sampling()) == before + 1
    other.stop()
