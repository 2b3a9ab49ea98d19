"""What a run costs the machine: CPU, RAM, the model server's process and an NVIDIA GPU, sampled in a thread.

The sampler runs in its own daemon thread for the life of a run, so it never touches the measuring task: the
measuring task only asks, after an iteration's answer has ended, for the samples that fell inside it
(``Sampler.window``), which is a lookup in a list. psutil reads the operating system's counters (the same
``/proc`` figures ``top`` shows, on every platform we run on); NVML (``nvidia-ml-py``, the optional ``gpu``
extra) reads the NVIDIA driver's. Anything missing (no GPU, no driver, no permission, no server pid) is left
out of the samples rather than reported as an error: the run shows what the machine tells.

docs/metrics.md defines every figure here.
"""

from __future__ import annotations

import bisect
import importlib
import ipaddress
import logging
import statistics
import threading
import time
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import urlsplit

import psutil

from llamaburn.engine.metrics import Metric

log = logging.getLogger(__name__)
INTERVAL_S = 0.25  # the spec's range is 250 ms to 1 s: the shortest, so a short iteration still gets a sample
FIRST_SAMPLE_S = 0.05  # the first sample comes early, so a run's first short iteration has one
MIB = 1024 * 1024
SERIES_KEY = "telemetry"  # the iteration's metrics key holding its samples, as columns


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the machine; ``at`` is ``time.perf_counter()``, the measuring clock. CPU figures cover
    the time since the previous sample (psutil's and the kernel's counters are cumulative)."""

    at: float
    cpu_pct: float
    per_core_pct: tuple[float, ...]
    ram_used_mib: float
    server_rss_mib: float | None = None
    server_cpu_pct: float | None = None
    gpu_util_pct: float | None = None
    vram_used_mib: float | None = None
    gpu_power_w: float | None = None
    gpu_temp_c: float | None = None


GAUGES = tuple(f.name for f in fields(Sample) if f.name not in ("at", "per_core_pct"))
"""The scalar readings, each summarised over an iteration as its mean and its peak."""

TELEMETRY_METRICS: tuple[Metric, ...] = (
    Metric(name="cpu_pct", label="CPU", unit="%", direction="lower"),
    Metric(name="ram_used_mib", label="RAM used", unit="MiB", direction="lower"),
    Metric(name="server_rss_mib", label="Server RSS", unit="MiB", direction="lower"),
    Metric(name="server_cpu_pct", label="Server CPU", unit="%", direction="lower"),
    Metric(name="gpu_util_pct", label="GPU util", unit="%", direction="lower"),
    Metric(name="vram_used_mib", label="VRAM used", unit="MiB", direction="lower"),
    Metric(name="gpu_power_w", label="GPU power", unit="W", direction="lower"),
    Metric(name="gpu_temp_c", label="GPU temp", unit="°C", direction="lower"),
    Metric(name="j_per_token", label="Energy/token", unit="J/tok", direction="lower"),
)
"""The telemetry a comparison can set side by side, each by its per-iteration mean (``<name>``)."""


class Gpu:
    """The NVIDIA GPUs through an NVML module (``pynvml``'s API); all devices together, as one figure each:
    utilisation and temperature the highest of them, VRAM and power their sum."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        nvml.nvmlInit()
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]

    @classmethod
    def open(cls, nvml: Any | None = None) -> Gpu | None:
        """The GPUs, or ``None`` where there is no NVML module, no NVIDIA driver or device, or no permission."""
        try:
            module = nvml if nvml is not None else importlib.import_module("pynvml")
            gpu = cls(module)
        except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, _NoPermission...: no GPU figures
            log.debug("no NVIDIA GPU telemetry: %s", exc)
            return None
        return gpu if gpu.handles else None

    def read(self) -> dict[str, float | None]:
        """This instant's figures; one the driver refuses (a consumer card without power readings) is ``None``."""
        util, vram, power, temp = [], [], [], []
        nvml = self.nvml
        for handle in self.handles:
            util.append(_try(lambda h=handle: float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)))
            vram.append(_try(lambda h=handle: nvml.nvmlDeviceGetMemoryInfo(h).used / MIB))
            power.append(_try(lambda h=handle: nvml.nvmlDeviceGetPowerUsage(h) / 1000))  # NVML: milliwatts
            temp.append(_try(lambda h=handle: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))))
        return {
            "gpu_util_pct": _known(max, util),
            "vram_used_mib": _known(sum, vram),
            "gpu_power_w": _known(sum, power),
            "gpu_temp_c": _known(max, temp),
        }

    def close(self) -> None:
        _try(self.nvml.nvmlShutdown)


def _try(read: Any) -> Any:
    try:
        return read()
    except Exception:  # NVMLError_NotSupported / _NoPermission for one figure: that figure is unknown
        return None


def _known(combine: Any, values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return float(combine(present)) if present else None


_found: dict[str, tuple[int, float]] = {}  # url -> (pid, when found): a sweep's streams scan once, not each
FOUND_FOR_S = 60.0


def listening_pid(url: str) -> int | None:
    """The pid of the local process listening on ``url``'s port (a local Ollama or llama-server), if this user
    may see it; ``None`` for a remote server or when the system does not say. A pid found in the last minute
    that still runs is reused: the scan reads every process's sockets (about 25 ms of CPU here)."""
    if (found := _found.get(url)) is not None and time.monotonic() - found[1] < FOUND_FOR_S \
            and psutil.pid_exists(found[0]):
        return found[0]
    pid = _scan(url)
    if pid is not None:
        _found[url] = (pid, time.monotonic())
    return pid


def _scan(url: str) -> int | None:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if host is None or not _local(host):
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    return next(
        (c.pid for c in connections if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid),
        None,
    )


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class Sampler:
    """Samples the machine every ``interval_s`` in a daemon thread, from ``start()`` until ``stop()``.

    ``pid`` is the model server's process, when known; else ``url`` is looked up for a local listener (in the
    thread, since a port scan reads every process's sockets). ``nvml`` replaces the ``pynvml`` module (tests).
    """

    def __init__(
        self, *, pid: int | None = None, url: str | None = None, nvml: Any | None = None, interval_s: float = INTERVAL_S
    ) -> None:
        self.pid, self.url, self.nvml, self.interval_s = pid, url, nvml, interval_s
        self.samples: list[Sample] = []  # appended by the thread only; readers copy a slice (atomic in CPython)
        self.cpu_s = 0.0  # the thread's whole CPU time so far (its wake-ups too), for benchmarks/telemetry.py
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="llamaburn-telemetry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; it does within one interval, and nobody waits for it."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def latest(self) -> Sample | None:
        samples = self.samples
        return samples[-1] if samples else None

    def window(self, started: float, ended: float) -> list[Sample]:
        """The samples taken from ``started`` to ``ended`` (perf_counter seconds) or, if none was, the last one
        taken before ``ended``: an iteration shorter than the interval still gets the machine's latest state."""
        samples = self.samples[:]
        times = [sample.at for sample in samples]
        low, high = bisect.bisect_left(times, started), bisect.bisect_right(times, ended)
        if low < high:
            return samples[low:high]
        return samples[high - 1 : high] if high else []

    def _loop(self) -> None:
        gpu = Gpu.open(self.nvml)
        process = self._process()
        psutil.cpu_percent(percpu=True)  # the first call only starts psutil's counters
        if process is not None:
            _try(process.cpu_percent)
        self.cpu_s, wait_s = time.thread_time(), min(FIRST_SAMPLE_S, self.interval_s)
        while not self._stop.wait(wait_s):
            self.samples.append(self._read(gpu, process))
            self.cpu_s, wait_s = time.thread_time(), self.interval_s
        if gpu is not None:
            gpu.close()

    def _process(self) -> psutil.Process | None:
        pid = self.pid if self.pid is not None else listening_pid(self.url) if self.url else None
        if pid is None:
            return None
        try:
            return psutil.Process(pid)
        except psutil.Error:
            return None

    @staticmethod
    def _read(gpu: Gpu | None, process: psutil.Process | None) -> Sample:
        per_core = tuple(psutil.cpu_percent(percpu=True))
        server: dict[str, float | None] = {}
        if process is not None:
            try:
                with process.oneshot():
                    rss_mib, cpu_pct = process.memory_info().rss / MIB, process.cpu_percent()
                server = {"server_rss_mib": rss_mib, "server_cpu_pct": cpu_pct}
            except psutil.Error:  # the server exited or is not ours to read
                server = {}
        return Sample(
            at=time.perf_counter(),
            cpu_pct=statistics.fmean(per_core) if per_core else 0.0,
            per_core_pct=per_core,
            ram_used_mib=psutil.virtual_memory().used / MIB,
            **server,
            **(gpu.read() if gpu is not None else {}),
        )


class SharedSampler:
    """A run's share of the one ``Sampler`` its server has in this process, from the first run that starts it
    to the last that stops it.

    A sweep point runs its streams as simultaneous runs on one server: with a sampler each, 32 streams cost 32
    threads waking every 250 ms and 32 port scans (about 25 ms of CPU each), all in the measuring client
    (measured: 0.36 ms of client CPU per token at 32 streams, against 0.15 before telemetry). And psutil's
    ``cpu_percent`` counters are process-wide: each caller resets them for every other, so 32 samplers read
    32 overlapping, shorter intervals. One sampler per server reads them once per interval for all.
    """

    _open: ClassVar[dict[tuple[int | None, str | None], tuple[Sampler, int]]] = {}  # -> (sampler, its runs)
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, pid: int | None = None, url: str | None = None) -> None:
        self.key = (pid, url)
        self._sampler: Sampler | None = None

    @property
    def samples(self) -> list[Sample]:
        return self._sampler.samples if self._sampler is not None else []

    def start(self) -> None:
        with self._lock:
            sampler, runs = self._open.get(self.key, (None, 0))
            if sampler is None:
                sampler = Sampler(pid=self.key[0], url=self.key[1])
                sampler.start()
            self._open[self.key] = (sampler, runs + 1)
            self._sampler = sampler

    def stop(self) -> None:
        with self._lock:
            sampler, runs = self._open[self.key]
            if runs > 1:
                self._open[self.key] = (sampler, runs - 1)
                return
            del self._open[self.key]
            sampler.stop()

    def latest(self) -> Sample | None:
        return self._sampler.latest() if self._sampler is not None else None

    def window(self, started: float, ended: float) -> list[Sample]:
        return self._sampler.window(started, ended) if self._sampler is not None else []


def summary(samples: list[Sample], started: float, ended: float, output_tokens: Any) -> dict[str, Any]:
    """An iteration's telemetry, as metrics: each reading's mean (``<name>``) and peak (``<name>_peak``) over
    ``samples``, the GPU energy and energy per output token where power is known, and the samples themselves as
    columns under ``telemetry`` (``t_s`` since the iteration began). ``{}`` with no sample."""
    if not samples:
        return {}
    metrics: dict[str, Any] = {}
    series: dict[str, list[Any]] = {"t_s": [round(s.at - started, 4) for s in samples]}
    for name in GAUGES:
        values = [getattr(s, name) for s in samples]
        known = [v for v in values if v is not None]
        if not known:
            continue
        metrics[name], metrics[f"{name}_peak"] = statistics.fmean(known), max(known)
        series[name] = values
    series["per_core_pct"] = [list(s.per_core_pct) for s in samples]
    if (power := metrics.get("gpu_power_w")) is not None:
        metrics["energy_j"] = power * (ended - started)
        if isinstance(output_tokens, int) and not isinstance(output_tokens, bool) and output_tokens > 0:
            metrics["j_per_token"] = metrics["energy_j"] / output_tokens
    return metrics | {SERIES_KEY: series}
