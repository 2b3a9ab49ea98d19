"""What every section shares: robust statistics, result rows, and the machine they were measured on.

A figure is the median of repeated samples with its spread (p25-p75 and min-max), never a single reading:
on a 2-core laptop-class machine the neighbours' load moves single readings by more than our bars.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llamaburn.engine.metrics import percentile


@dataclass(frozen=True, slots=True)
class Stat:
    """The median and spread of repeated samples."""

    n: int
    median: float
    p25: float
    p75: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        values = [float(v) for v in samples if v is not None and math.isfinite(v)]
        if not values:
            raise ValueError("no finite samples")
        return cls(
            n=len(values),
            median=statistics.median(values),
            p25=percentile(values, 25),
            p75=percentile(values, 75),
            min=min(values),
            max=max(values),
        )


@dataclass(slots=True)
class Row:
    """One reported figure. ``value`` is a ``Stat`` over repeats, or a single derived number or text."""

    section: str
    figure: str
    value: Stat | float | str
    unit: str = ""
    bar: str = ""
    passed: bool | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = asdict(self.value) if isinstance(self.value, Stat) else self.value
        return data


@dataclass(slots=True)
class Section:
    """A section's rows plus what else used the CPU while it ran."""

    name: str
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    others: list[str] = field(default_factory=list)
    error: str | None = None


def fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separated, no scientific notation."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def show(row: Row) -> tuple[str, str, str]:
    """The value, spread and repeat count of a row, as table cells."""
    value = row.value
    if isinstance(value, Stat):
        spread = f"{fmt(value.p25)} to {fmt(value.p75)} (min {fmt(value.min)}, max {fmt(value.max)})"
        return f"{fmt(value.median)} {row.unit}".strip(), spread, str(value.n)
    if isinstance(value, float | int):
        return f"{fmt(float(value))} {row.unit}".strip(), "", ""
    return value, "", ""


# The machine


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}"


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def hardware() -> dict[str, Any]:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    load = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(ram / 2**30, 1),
        "os": _os_name(),
        "python": platform.python_version(),
        "llama_cpp_python": _version("llama-cpp-python"),
        "httpx": _version("httpx"),
        "nicegui": _version("nicegui"),
        "gpu": "NVIDIA GPU present (unused: llama.cpp here is a CPU build)" if shutil.which("nvidia-smi") else "no GPU",
        "load_avg_at_start": [round(x, 2) for x in load],
    }


def hardware_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['gpu']}; {info['os']}; "
        f"Python {info['python']}, llama-cpp-python {info['llama_cpp_python']}, httpx {info['httpx']}, "
        f"NiceGUI {info['nicegui']}; load average at start {', '.join(map(str, info['load_avg_at_start']))}"
    )


# What else was running


def _ticks() -> dict[int, tuple[int, int, str]]:
    """CPU ticks used so far, parent pid and command, of every process."""
    found: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[11]) + int(fields[12]), int(fields[1]), command or stat.split()[1])
    return found


class Neighbours:
    """Processes outside this suite (not this process or its descendants) that used CPU during a section.

    /proc is sampled once a second in a thread, so a short-lived neighbour (another engineer's test run)
    is counted too; the sampling itself costs well under 1% of a core.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self._first = _ticks()
        self._last = dict(self._first)
        self._ours = {os.getpid()}
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval_s,), daemon=True)
        self._thread.start()

    def _sample(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self._update()

    def _update(self) -> None:
        now = _ticks()
        changed = True
        while changed:
            before = len(self._ours)
            self._ours |= {pid for pid, (_, parent, _) in now.items() if parent in self._ours}
            changed = len(self._ours) != before
        for pid, value in now.items():
            self._first.setdefault(pid, (0, value[1], value[2]))  # born during the section
            self._last[pid] = value

    def report(self, threshold_pct: float = 2.0) -> list[str]:
        self._stop.set()
        self._thread.join()
        self._update()
        elapsed, hz = time.monotonic() - self._t0, os.sysconf("SC_CLK_TCK")
        busy = []
        for pid, (ticks, _, command) in self._last.items():
            if pid in self._ours:
                continue
            pct = (ticks - self._first[pid][0]) / hz / elapsed * 100 if elapsed > 0 else 0.0
            if pct >= threshold_pct:
                busy.append((pct, f"{command[:100]} ({pct:.0f}% of a core)"))
        return [text for _, text in sorted(busy, reverse=True)]
