"""A fake NVML module with the shape of ``pynvml``'s API (nvidia-ml-py), for telemetry on machines with no
NVIDIA GPU: inject it as ``Sampler(nvml=FakeNvml(...))`` or as ``sys.modules["pynvml"]``.

Each device reads the figures it was given; a figure given as ``None`` raises ``NVMLError_NoPermission`` the
way a driver refuses a reading, and ``FakeNvml(library=False)`` fails ``nvmlInit`` as a machine without the
driver does.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    pass


class NVMLError_NoPermission(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


@dataclass(slots=True)
class FakeDevice:
    util_pct: int | None = 40
    vram_used_bytes: int | None = 2 * 1024**3
    power_mw: int | None = 150_000
    temp_c: int | None = 60


class FakeNvml:
    """The module: ``nvmlInit``, device handles by index, the four readings and ``nvmlShutdown``."""

    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVMLError = NVMLError

    def __init__(self, *devices: FakeDevice, library: bool = True) -> None:
        self.devices = list(devices) or [FakeDevice()]
        self.library = library
        self.initialised = False

    def nvmlInit(self) -> None:
        if not self.library:
            raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        return self.devices[index]

    def nvmlDeviceGetUtilizationRates(self, handle: FakeDevice) -> SimpleNamespace:
        return SimpleNamespace(gpu=_given(handle.util_pct), memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: FakeDevice) -> SimpleNamespace:
        used = _given(handle.vram_used_bytes)
        return SimpleNamespace(used=used, total=used * 2, free=used)

    def nvmlDeviceGetPowerUsage(self, handle: FakeDevice) -> int:
        return _given(handle.power_mw)

    def nvmlDeviceGetTemperature(self, handle: FakeDevice, sensor: int) -> int:
        assert sensor == NVML_TEMPERATURE_GPU
        return _given(handle.temp_c)


def _given(value: int | None) -> int:
    if value is None:
        raise NVMLError_NoPermission("Insufficient Permissions")
    return value
