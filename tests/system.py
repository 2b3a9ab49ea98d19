"""What the suite needs from the machine beyond Python packages, read from `.ci/debian-packages`.

A test that needs Debian packages asks for their group here. When one is absent the test skips with a
reason that names it and the command that installs it, so a missing package is visible, never a silent pass
or a confusing failure; `LLAMABURN_STRICT_TESTS=1` (set by `.ci/run`) turns that skip into a failure.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGES_FILE = Path(__file__).parent.parent / ".ci" / "debian-packages"


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
