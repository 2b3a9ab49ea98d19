"""The optional functional check: run model-written Python against a task's assertions, in a child process.

What holds (docs/reliability.md says the rest): a wall-clock timeout, after which the whole process group
is killed; CPU-time, address-space, file-size and process-count limits (``setrlimit``); an empty temporary
working directory; and, where ``unshare`` can make them (Linux, as root or with user namespaces), a new
network namespace (no network, loopback down) and a new PID namespace, whose processes all die with its
first one. RLIMIT_NPROC does not bind root, so as root a fork bomb is stopped by the PID namespace and the
timeout's kill, not by the limit. Nothing here runs unless the user asks for ``run_tests``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

MEMORY_BYTES = 512 * 1024 * 1024
PROCESSES = 32
FILE_BYTES = 16 * 1024 * 1024
OUTPUT_CHARS = 2000

Outcome = Literal["passed", "failed", "timeout"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    outcome: Outcome
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@cache
def isolation() -> tuple[str, ...]:
    """The ``unshare`` prefix that gives a child no network and its own PID namespace, or ``()``."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    prefix = (unshare, "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
    try:
        ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if ok else ()


# Runs first in the child, before any model-written code: the limits, then the answer as ``__main__``. Set in
# the child rather than by ``preexec_fn``, which is unsafe in a threaded parent (the app runs threads).
BOOTSTRAP = f"""
import resource, runpy, sys
cpu_s = int(sys.argv[1])
for limit, value in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_AS, {MEMORY_BYTES}),
                     (resource.RLIMIT_FSIZE, {FILE_BYTES}), (resource.RLIMIT_NPROC, {PROCESSES}),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
runpy.run_path(sys.argv[2], run_name="__main__")
"""


def run_tests(code: str, tests: str, timeout_s: float) -> CheckResult:
    """Run ``code`` and then ``tests`` as one script in a fresh empty directory; passed when it exits 0."""
    with tempfile.TemporaryDirectory(prefix="llamaburn-code-") as workdir:
        script = Path(workdir) / "answer.py"
        script.write_text(code + "\n\n" + tests)
        cpu_s = str(max(1, int(timeout_s) + 1))
        command = [*isolation(), sys.executable, "-I", "-S", "-c", BOOTSTRAP, cpu_s, str(script)]
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8"}
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(process)
            return CheckResult("timeout", f"killed after {timeout_s:g} s")
        finally:
            _kill(process)
    text = output.decode(errors="replace")[-OUTPUT_CHARS:]
    return CheckResult("passed" if process.returncode == 0 else "failed", text)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the child's whole group (every process it forked that did not leave it), then reap the child."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
