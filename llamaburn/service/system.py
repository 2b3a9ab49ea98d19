"""The machine a run was measured on: without it, two runs' numbers cannot be compared honestly.

The hardware part is read once per process (``machine``): a sweep stores a snapshot with each of its runs,
and on a machine with an NVIDIA GPU each reading ran ``nvidia-smi``, tens of milliseconds of a blocked event
loop per run. Hardware does not change under a running process; the server's part is read per run.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from llamaburn import __version__


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith(("model name", "Hardware", "Processor")) and ":" in line:
                return line.split(":", 1)[1].strip()
    if platform.system() == "Darwin":
        return _command(["sysctl", "-n", "machdep.cpu.brand_string"]) or platform.processor()
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _command(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=3, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs as ``nvidia-smi`` sees them; other vendors are not probed yet."""
    output = _command(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    for line in (output or "").splitlines():
        name, _, vram_mib = line.rpartition(",")
        if name:
            gpus.append({"name": name.strip(), "vram_mb": int(vram_mib) if vram_mib.strip().isdigit() else None})
    return gpus


@cache
def machine() -> dict[str, Any]:
    """This machine's hardware and software line, read on the first call of the process."""
    return {
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "ram_bytes": _ram_bytes(),
        "gpus": _gpus(),
        "llamaburn_version": __version__,
        "hostname": platform.node(),
    }


def snapshot(backend: str, url: str, backend_version: str | None) -> dict[str, Any]:
    """A run's ``system``: the machine, and the server it measured."""
    return {**machine(), "pid": os.getpid(), "backend": backend, "backend_url": url, "backend_version": backend_version}
