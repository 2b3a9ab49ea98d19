"""What the suite needs from the machine: Debian packages, read from `.ci/debian-packages`, fresh
virtual environments for the tests that install a plugin as a user would, and the app served as a user
starts it (`served_app`).

A test that needs Debian packages asks for their group here. When one is absent the test skips with a
reason that names it and the command that installs it, so a missing package is visible, never a silent pass
or a confusing failure; `LLAMABURN_STRICT_TESTS=1` (set by `.ci/run`) turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PACKAGES_FILE = Path(__file__).parent.parent / ".ci" / "debian-packages"
OUTPUT = "llamaburn.log"  # where served_app() puts what the app prints


def groups() -> dict[str, list[str]]:
    """Each group of tests and the Debian packages it needs, in the file's order."""
    found: dict[str, list[str]] = {}
    for line in PACKAGES_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            package, group = line.split()
            found.setdefault(group, []).append(package)
    return found


@functools.cache
def installed(package: str) -> bool:
    """Whether dpkg has the package installed (False on a machine without dpkg: the reason then says so)."""
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.endswith(" installed")


def missing(group: str) -> list[str]:
    return [package for package in groups()[group] if not installed(package)]


def needs_debian_packages(group: str) -> pytest.MarkDecorator:
    """Skip unless every package of `group` is installed, naming the ones that are not."""
    absent = missing(group)
    return pytest.mark.skipif(
        bool(absent),
        reason=f"needs the Debian package(s) {' '.join(absent)}: sudo apt-get install {' '.join(absent)}",
    )


def venv_with_project(project: Path, root: Path) -> Path:
    """A fresh virtual environment in ``root`` with ``project`` built and pip-installed as a wheel, offline;
    its python is returned.

    It sees the packages of the interpreter running the tests, so llamaburn and its dependencies are there
    without a download. Not ``--system-site-packages``: from inside a virtualenv that would be the base
    interpreter's site, without llamaburn. ``site.addsitedir`` (unlike a bare path) also runs the ``.pth``
    files there, such as the editable install's.
    """
    wheels = root / "wheels"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(wheels), str(project))
    [wheel] = wheels.glob("*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    inner = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True).stdout.strip()
    (Path(inner) / "outer-site.pth").write_text("".join(f"import site; site.addsitedir({path!r})\n" for path in outer))
    _pip("--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    return python


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """Stop a server a test started: SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def served_app(python: Path, cwd: Path, *args: str, ready: str = "/", **env: str) -> Iterator[str]:
    """``python -m llamaburn`` (with ``args``, e.g. ``--lan``) serving on a free loopback port, as a user
    starts it; yields its URL once ``ready`` answers 200, and stops it afterwards.

    Its output goes to ``cwd / OUTPUT`` (a test reads what it printed there; a start that fails raises with
    it). ``PYTEST_CURRENT_TEST`` is left out, or NiceGUI never serves."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | env
    output = cwd / OUTPUT
    with output.open("wb") as sink:
        process = subprocess.Popen([str(python), "-m", "llamaburn", "--no-show", "--port", str(port), *args],
                                   env=environ, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"the app did not start:\n{output.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        stop(process, timeout_s=15)
