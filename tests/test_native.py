"""Native-window mode: a real pywebview/Qt window on a virtual X display, and one-line failures otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system import free_port, needs_debian_packages

pytestmark = needs_debian_packages("native")


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "DISPLAY", "WAYLAND_DISPLAY")}
    return env | {
        "LLAMABURN_DB_URL": f"sqlite:///{tmp_path / 'native.db'}",
        "QTWEBENGINE_DISABLE_SANDBOX": "1",
        "OLLAMA_HOST": "127.0.0.1:9",
        **extra,
    }


@pytest.fixture
def display() -> Iterator[str]:
    """A private virtual X display, started here and stopped afterwards."""
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    assert server.poll() is None, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def test_native_window_opens_on_a_display(display: str, tmp_path: Path) -> None:
    app = subprocess.Popen(
        [sys.executable, "-m", "llamaburn", "--native", "--port", str(free_port())],
        env=app_env(tmp_path, DISPLAY=display),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        windows = ""
        while not windows and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.5)
            found = subprocess.run(
                ["xdotool", "search", "--name", "LlamaBurn"], env={"DISPLAY": display}, capture_output=True, text=True
            )
            windows = found.stdout.strip()
        assert windows, f"no LlamaBurn window appeared (exit {app.poll()})"
    finally:
        os.killpg(app.pid, signal.SIGTERM)  # the window is a child process: stop the whole group
        app.wait(timeout=20)


def test_native_without_a_display_says_why_and_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llamaburn", "--native"],
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "llamaburn: error: --native needs a display: none is set (DISPLAY / WAYLAND_DISPLAY); run without --native "
        "to use the browser, or start it under a desktop session"
    ]


def test_native_window_that_cannot_open_exits_non_zero(display: str, tmp_path: Path) -> None:
    env = app_env(tmp_path, DISPLAY=display, QT_QPA_PLATFORM="no-such-platform")
    result = subprocess.run(
        [sys.executable, "-m", "llamaburn", "--native", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert result.returncode == 1
    assert "llamaburn: error: the native window could not be opened" in result.stderr
