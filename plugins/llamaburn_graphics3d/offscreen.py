"""The offscreen renderer, run as its own long-lived process: ``python -m llamaburn_graphics3d.offscreen``.

It reads one line per rendering on stdin, the path of a scratch directory holding ``request.json``; renders
each view with VTK (through pyvista) into a window that never reaches a screen; writes ``<n>.png`` and
``result.json`` there (the views, the timings of docs/metrics.md, which OpenGL implementation drew them); and
answers with one line on stdout, ``done``. A problem with the model is a result too (``{"error": "..."}``);
any other failure ends the process, and its stderr says why. It ends when stdin closes.

A process of its own, because VTK is not thread-safe (an OpenGL context belongs to the thread that made it
current) and keeps the GIL while it draws, which would stall the app's event loop; a separate process also
confines a crash of the OpenGL driver to one rendering. Long-lived, because importing trimesh and pyvista
takes 3 to 4 s here, which each rendering would otherwise pay again. ``renderer.py`` starts it with
``VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow``: VTK's wheels then draw with Mesa's OSMesa (Debian's
``libosmesa6``, llvmpipe on the CPU), so a machine with no GPU and no display renders the same way as any other.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .mesh import MeshError, load_mesh
from .views import VIEWS, View

if TYPE_CHECKING:
    import numpy as np
    import pyvista as pv
    import trimesh

BACKGROUND = "white"
PRELOADED = ("trimesh", "pyvista.plotting", "PIL.Image")  # what load_mesh and pv.Plotter would import on the clock
SURFACE = "lightsteelblue"  # a model without colours of its own: light, so its shading shows on white


def vertex_colors(mesh: trimesh.Trimesh) -> np.ndarray | None:
    """The model's own colours per vertex (RGB), from its vertex or face colours, or its texture sampled at
    each vertex's UV; ``None`` when it has none, or only trimesh's default grey."""
    import trimesh

    visual = mesh.visual
    if visual is None or visual.kind is None:
        return None
    try:
        if isinstance(visual, trimesh.visual.TextureVisuals):
            visual = visual.to_color()
        colors = visual.vertex_colors
    except (ValueError, AttributeError, TypeError):  # a texture trimesh cannot sample: render without it
        return None
    return colors[:, :3] if len(colors) == len(mesh.vertices) else None


def place_camera(plotter: pv.Plotter, view: View, centre: Any) -> None:
    """Look at the model's centre from ``view.direction``, then fit its bounds into the window."""
    position = [c + d for c, d in zip(centre, view.direction, strict=True)]
    plotter.camera_position = [tuple(position), tuple(centre), view.up]
    plotter.reset_camera()  # type: ignore[call-arg]  # pyvista's decorator hides the bound method from mypy


def opengl_renderer(plotter: pv.Plotter) -> str:
    """The OpenGL implementation that drew (``llvmpipe (LLVM 15.0.6, 256 bits)``), as VTK reports it."""
    window = plotter.render_window
    for line in window.ReportCapabilities().splitlines() if window is not None else ():
        if line.startswith("OpenGL renderer string:"):
            return line.partition(":")[2].strip()
    return type(window).__name__


def render(request: dict[str, Any], out: Path) -> dict[str, Any]:
    """Load, render and encode; each step's time with ``perf_counter``, in this process, with nothing between.
    ``serve`` has imported the libraries before (pyvista's plotting alone takes 1.6 s here, most of it
    matplotlib), so no timing holds Python's imports: they are the process's start-up, not the model's."""
    import pyvista as pv
    from PIL import Image

    started = time.perf_counter()
    mesh = load_mesh(Path(request["path"]), request["max_faces"])
    loaded = time.perf_counter()
    size = request["size"]
    plotter = pv.Plotter(off_screen=True, window_size=[size, size])
    try:
        plotter.background_color = pv.Color(BACKGROUND)
        surface = pv.wrap(mesh)
        colors = vertex_colors(mesh)
        if colors is None:
            plotter.add_mesh(surface, color=SURFACE)
        else:
            surface.point_data["colors"] = colors
            plotter.add_mesh(surface, scalars="colors", rgb=True)
        centre = [float(c) for c in mesh.bounds.mean(axis=0)]
        frames, view_ms = [], []
        for view in VIEWS[: request["views"]]:
            view_started = time.perf_counter()
            place_camera(plotter, view, centre)
            frame = plotter.screenshot(return_img=True)  # renders, then reads the pixels back
            assert frame is not None  # return_img: the pixels, always
            frames.append(frame)
            view_ms.append((time.perf_counter() - view_started) * 1000)
        rendered = time.perf_counter()
        renderer = opengl_renderer(plotter)
    finally:
        plotter.close()
    encoding = time.perf_counter()
    pngs = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    encoded = time.perf_counter()
    views = []
    for index, (view, frame, ms, png) in enumerate(zip(VIEWS, frames, view_ms, pngs, strict=False)):
        (out / f"{index}.png").write_bytes(png)
        views.append({"name": view.name, "key": view.key, "file": f"{index}.png", "render_ms": ms,
                      "width": int(frame.shape[1]), "height": int(frame.shape[0])})
    return {
        "views": views,
        "mesh_load_ms": (loaded - started) * 1000,
        "render_ms": (rendered - loaded) * 1000,
        "png_encode_ms": (encoded - encoding) * 1000,
        "faces": len(mesh.faces),
        "vertices": len(mesh.vertices),
        "renderer": renderer,
    }


def serve(requests: TextIO, answers: TextIO) -> None:
    """Render each scratch directory named on ``requests``, answering ``done`` on ``answers`` for each."""
    for module in PRELOADED:
        importlib.import_module(module)
    for line in requests:
        out = Path(line.strip())
        try:
            result = render(json.loads((out / "request.json").read_text()), out)
        except MeshError as exc:
            result = {"error": str(exc)}
        (out / "result.json").write_text(json.dumps(result))
        answers.write("done\n")
        answers.flush()


def main() -> int:
    """Keep stdout for the answers alone: whatever VTK or Mesa print there goes to stderr instead."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
