"""The optional functional check: it runs model-written code only when asked, and within its limits."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

import llamaburn_code.modality
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn_code.sandbox import CheckResult, isolation, run_tests
from llamaburn_code.tasks import TASKS
from tests.test_code import ScriptedBackend, fenced

FIB = "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
WRONG = "def fibonacci(n):\n    return n\n"


def test_a_correct_solution_passes_and_a_wrong_one_fails() -> None:
    assert run_tests(FIB, TASKS["fibonacci"].python_tests, 10).outcome == "passed"
    result = run_tests(WRONG, TASKS["fibonacci"].python_tests, 10)
    assert result.outcome == "failed" and "AssertionError" in result.output


def test_an_infinite_loop_is_killed_at_the_timeout() -> None:
    started = time.monotonic()
    assert run_tests("while True:\n    pass\n", "", 1.0).outcome == "timeout"
    assert time.monotonic() - started < 5


def test_a_memory_hog_stops_at_the_address_space_limit() -> None:
    result = run_tests("x = bytearray(4 * 1024 ** 3)\n", "", 10)
    assert result.outcome == "failed" and "MemoryError" in result.output


def test_a_fork_bomb_is_stopped_and_leaves_no_process() -> None:
    bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n" \
           "    time.sleep(0.05)\n"
    started = time.monotonic()
    assert run_tests(bomb, "", 1.5).outcome == "timeout"
    assert time.monotonic() - started < 10
    # The kernel kills the namespace's processes when its first one dies; on a loaded machine that takes a
    # moment, so wait for it (no survivor may remain), rather than assume how long it takes.
    deadline = time.monotonic() + 10
    while (survivors := _sandboxed_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors == []


def _sandboxed_processes() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
            if b"llamaburn-code-" in command and b"answer.py" in command:
                found.append(pid)
        except OSError:
            pass
    return found


def test_the_working_directory_is_empty() -> None:
    assert run_tests("import os\nassert os.listdir('.') == ['answer.py'], os.listdir('.')\n", "", 10).passed


@pytest.mark.skipif(not isolation(), reason="no network namespace on this platform")
def test_there_is_no_network() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    result = run_tests(code, "", 10)
    assert result.outcome == "failed" and ("OSError" in result.output or "Error" in result.output)
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


async def test_the_sandbox_is_never_invoked_without_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(llamaburn_code.modality, "run_tests", lambda code, *_: calls.append(code))
    modality = load_registry().modality("code")
    inputs = modality.parse_inputs({"iterations": 3, "warmup": 1, "task": "fibonacci"})
    run = Run(modality, inputs, Target(ScriptedBackend([fenced(FIB, "python")]), "m"))
    await run.execute()
    assert run.status == "completed" and calls == []
    assert [m["tests_passed"] for m in run.iterations] == [None, None, None]


async def test_with_the_option_the_pass_rate_is_measured() -> None:
    modality = load_registry().modality("code")
    inputs = modality.parse_inputs({"iterations": 2, "warmup": 0, "task": "fibonacci", "run_tests": True})
    run = Run(modality, inputs, Target(ScriptedBackend([fenced(FIB, "python"), fenced(WRONG, "python")]), "m"))
    await run.execute()
    assert [m["tests_passed"] for m in run.iterations] == [100, 0]
    assert run.summary["tests_passed"]["mean"] == 50.0


def test_result_passed_is_its_outcome() -> None:
    assert CheckResult("passed").passed and not CheckResult("timeout").passed
