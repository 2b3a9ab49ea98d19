"""Render a model's views in the offscreen renderer's own process (``offscreen.py`` says why a process).

``render()`` blocks until the views are drawn, so call it from a thread (the vision path times it as client
work there). One renderer process serves every rendering of this process, in turn: it is started at the first
rendering, started again after it died or hung, and ends with this process. It never touches a display: it
draws with OSMesa unless the environment already chose another VTK window (``VTK_DEFAULT_OPENGL_WINDOW``,
e.g. ``vtkEGLRenderWindow`` on a machine with a GPU).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from llamaburn.plugin import ConfigError, LlamaBurnError

RENDER_TIMEOUT_S = 300  # a model at the face limit renders in seconds on llvmpipe; past this, something hangs
START_TIMEOUT_S = 120  # the renderer's imports (trimesh, pyvista) take 3 to 4 s on a quiet machine
OSMESA_WINDOW = "vtkOSOpenGLRenderWindow"
PLUGINS_DIR = Path(__file__).resolve().parent.parent  # so the child imports this very copy of the plugin
STDERR_LINES = 20  # the child's last words kept for an error message


class RenderError(LlamaBurnError):
    """The offscreen renderer could not draw the model (no OpenGL, a crash, a hang)."""


@dataclass(frozen=True, slots=True)
class RenderedView:
    """One view as a PNG, with the time it took to place the camera, render and read the pixels back."""

    name: str
    key: str
    png: bytes
    width: int
    height: int
    render_ms: float


@dataclass(frozen=True, slots=True)
class Rendering:
    """Every view, and what the renderer measured and reported (docs/metrics.md, "3D")."""

    views: list[RenderedView]
    details: dict[str, Any] = field(default_factory=dict)


def child_command() -> tuple[list[str], dict[str, str]]:
    """How the renderer is started now: the running interpreter, and this environment with OSMesa chosen
    unless it names a window of its own."""
    environ = dict(os.environ)
    environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", OSMESA_WINDOW)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS_DIR), environ.get("PYTHONPATH")]))
    return [sys.executable, "-m", f"{__package__}.offscreen"], environ


def drawing_setup(command: list[str], environ: dict[str, str]) -> tuple[str, ...]:
    """What decides how a renderer process draws: its interpreter, its VTK window and its display. A change
    of any starts a new one; the rest of the environment (a test's data directory, say) does not matter."""
    return (*command, environ["VTK_DEFAULT_OPENGL_WINDOW"], environ.get("DISPLAY", ""))


class Worker:
    """The renderer process and the two threads that read it: its answers into a queue (so a wait can time
    out on any OS), its stderr into the last few lines (so a full pipe never stalls it)."""

    def __init__(self, command: list[str], environ: dict[str, str]) -> None:
        self.started_as = drawing_setup(command, environ)
        self.process = subprocess.Popen(
            command, env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.answers: queue.Queue[str | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.fresh = True  # no rendering yet: the first answer also waits for the imports
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._read_answers, args=(self.process.stdout,), daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, args=(self.process.stderr,), daemon=True)
        self._stderr_reader.start()

    def _read_answers(self, stream: IO[str]) -> None:
        for line in stream:
            self.answers.put(line.strip())
        self.answers.put(None)  # the child ended: whoever waits for an answer gets this instead

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            if line.strip():
                self.stderr.append(line.strip())

    def ask(self, scratch: Path) -> None:
        """Have the child render ``scratch``'s request; returns once its result is written."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(f"{scratch}\n")
            self.process.stdin.flush()
        except OSError:  # it has already died; its answer is the end of its stdout
            pass
        timeout = RENDER_TIMEOUT_S + (START_TIMEOUT_S if self.fresh else 0)
        self.fresh = False
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()  # hung: it would not read a polite end of its stdin either
            self.process.wait()
            raise RenderError(f"rendering the model took longer than {RENDER_TIMEOUT_S} s and was stopped") from None
        if answer != "done":
            self.process.wait()
            self._stderr_reader.join(timeout=5)  # its last lines, read to the end
            raise RenderError(
                f"the offscreen renderer failed (exit status {self.process.returncode}): {self.last_words()}"
            )

    def last_words(self) -> str:
        """The child's last stderr line (a Python traceback's final line, or VTK's or Mesa's complaint)."""
        hint = "is Debian's libosmesa6 installed? (sudo apt-get install libosmesa6)"
        return f"{self.stderr[-1]}; {hint}" if self.stderr else f"it said nothing; {hint}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):  # a child that died leaves a pipe that cannot take the flush
                self.process.stdin.close()  # the child's loop ends at the end of its stdin
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_worker: Worker | None = None
_turn = threading.Lock()  # one rendering at a time: the child renders in turn, and so does llvmpipe's CPU


def _current_worker() -> Worker:
    """The running renderer, or a new one if there is none, it died, or how it would draw changed since."""
    global _worker
    command, environ = child_command()
    if _worker is not None and (not _worker.alive() or _worker.started_as != drawing_setup(command, environ)):
        _worker.stop()
        _worker = None
    if _worker is None:
        _worker = Worker(command, environ)
    return _worker


@atexit.register
def _stop_worker() -> None:
    if _worker is not None:
        _worker.stop()


def render(path: Path, views: int, size: int, max_faces: int) -> Rendering:
    """Draw the model at ``path`` from the first ``views`` of ``VIEWS``, ``size`` pixels square.

    Raises ``ConfigError`` for a model that cannot be rendered (the form's check normally refuses it first)
    and ``RenderError`` when the renderer itself fails; a renderer that failed is started afresh next time.
    """
    request = {"path": str(path), "views": views, "size": size, "max_faces": max_faces}
    with _turn, tempfile.TemporaryDirectory(prefix="llamaburn-render-") as scratch:
        out = Path(scratch)
        (out / "request.json").write_text(json.dumps(request))
        _current_worker().ask(out)
        result = json.loads((out / "result.json").read_text())
        if "error" in result:
            raise ConfigError(result["error"])
        rendered = [
            RenderedView(view["name"], view["key"], (out / view["file"]).read_bytes(), view["width"],
                         view["height"], view["render_ms"])
            for view in result.pop("views")
        ]
    return Rendering(rendered, result)
