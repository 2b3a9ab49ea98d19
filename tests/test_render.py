"""The offscreen renderer on this machine: no GPU, no display. Each view must really show the model (pixels
that are not the background), each view must differ from the others, every format must draw the same shape,
and the timings must add up as docs/metrics.md says.

Every rendering is a real child process drawing with VTK on Mesa's OSMesa, from files trimesh wrote.
"""

from __future__ import annotations

import io
import itertools
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from llamaburn.errors import ConfigError
from llamaburn_graphics3d import renderer
from llamaburn_graphics3d.renderer import RenderError, Rendering, render
from llamaburn_graphics3d.views import VIEWS
from tests.meshes import exported, peg_box, sphere, write
from tests.system import needs_debian_packages

pytestmark = needs_debian_packages("render")

WHITE = np.array([255, 255, 255])


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def silhouette(png: bytes) -> np.ndarray:
    """Where the model is: every pixel that is not the white background."""
    return np.any(pixels(png) != WHITE, axis=2)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two silhouettes: 1.0 for the same shape in the same place."""
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def box_rendering(tmp_path_factory: pytest.TempPathFactory) -> Rendering:
    path = write(tmp_path_factory.mktemp("box"), "box.glb", exported(peg_box())["glb"])
    return render(path, views=len(VIEWS), size=128, max_faces=10_000)


def test_every_view_shows_the_model_and_no_two_views_look_alike(box_rendering: Rendering) -> None:
    views = box_rendering.views
    assert [view.name for view in views] == [view.name for view in VIEWS]
    assert [view.name for view in views[:4]] == ["front", "side", "top", "isometric"]
    shapes = [silhouette(view.png) for view in views]
    for view, shape in zip(views, shapes, strict=True):
        assert (view.width, view.height) == (128, 128) and shape.shape == (128, 128)
        assert 0.05 < shape.mean() < 0.8, f"{view.name}: {shape.mean():.0%} of the picture is the model"
    for i, j in itertools.combinations(range(4), 2):
        assert overlap(shapes[i], shapes[j]) < 0.9, f"{views[i].name} and {views[j].name} look alike"


def test_the_front_and_the_back_are_mirror_images(box_rendering: Rendering) -> None:
    """The camera stands where each view says: from behind, the front's silhouette is flipped left to right."""
    front, back = silhouette(box_rendering.views[0].png), silhouette(box_rendering.views[4].png)
    assert overlap(front, back) < 0.9
    assert overlap(front, back[:, ::-1]) > 0.9


def test_the_total_render_time_holds_every_view_and_the_setup(box_rendering: Rendering) -> None:
    details = box_rendering.details
    view_ms = [view.render_ms for view in box_rendering.views]
    assert all(ms > 0 for ms in view_ms)
    assert details["render_ms"] >= sum(view_ms)  # plus the window, the OpenGL context and the mesh's upload
    assert details["mesh_load_ms"] > 0 and details["png_encode_ms"] > 0
    assert (details["faces"], details["vertices"]) == (len(peg_box().faces), len(peg_box().vertices))


def test_it_draws_with_mesa_on_the_cpu_with_no_display(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
    rendering = render(write(tmp_path, "ball.stl", exported(sphere())["stl"]), views=1, size=64, max_faces=10_000)
    assert "llvmpipe" in rendering.details["renderer"] or "softpipe" in rendering.details["renderer"]
    shape = silhouette(rendering.views[0].png)
    assert 0.2 < shape.mean() < 0.9 and shape[32, 32]  # a disc around the centre


@pytest.mark.parametrize("flavour", list(exported(peg_box())))
def test_every_format_draws_the_same_shape(flavour: str, tmp_path: Path, box_rendering: Rendering) -> None:
    extension = flavour.split("-")[0]
    path = write(tmp_path, f"box.{extension}", exported(peg_box())[flavour])
    rendering = render(path, views=1, size=128, max_faces=10_000)
    assert overlap(silhouette(rendering.views[0].png), silhouette(box_rendering.views[0].png)) > 0.97


def test_a_model_with_colours_of_its_own_is_drawn_in_them(tmp_path: Path) -> None:
    red = peg_box()
    red.visual = trimesh.visual.ColorVisuals(red, vertex_colors=np.tile([200, 30, 30, 255], (len(red.vertices), 1)))
    rendering = render(write(tmp_path, "red.ply", exported(red)["ply"]), views=1, size=64, max_faces=10_000)
    model = pixels(rendering.views[0].png)[silhouette(rendering.views[0].png)]
    assert (model[:, 0] > model[:, 2] + 40).mean() > 0.9  # red, where the plain model is a light blue-grey


def test_a_textured_glb_is_drawn_in_its_texture(tmp_path: Path) -> None:
    box = trimesh.creation.box()
    texture = Image.new("RGB", (8, 8), (0, 200, 0))
    box.visual = trimesh.visual.TextureVisuals(uv=np.full((len(box.vertices), 2), 0.5), image=texture)
    rendering = render(write(tmp_path, "green.glb", exported(box)["glb"]), views=1, size=64, max_faces=10_000)
    model = pixels(rendering.views[0].png)[silhouette(rendering.views[0].png)]
    assert (model[:, 1] > model[:, 0] + 40).mean() > 0.9 and (model[:, 1] > model[:, 2] + 40).mean() > 0.9


def test_a_model_past_the_face_limit_is_refused_by_the_renderer_too(tmp_path: Path) -> None:
    path = write(tmp_path, "ball.off", exported(sphere())["off"])
    with pytest.raises(ConfigError, match=r"^the OFF model has 1,280 faces, over the limit of 100 \(max_faces\)"):
        render(path, views=1, size=64, max_faces=100)


def test_a_renderer_that_dies_fails_the_rendering_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", shutil.which("false"))  # a child that exits 1 and says nothing
    with pytest.raises(RenderError) as failed:
        render(write(tmp_path, "box.glb", exported(peg_box())["glb"]), views=1, size=64, max_faces=10_000)
    assert str(failed.value) == (
        "the offscreen renderer failed (exit status 1): it said nothing; "
        "is Debian's libosmesa6 installed? (sudo apt-get install libosmesa6)"
    )


def test_a_rendering_that_hangs_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renderer, "RENDER_TIMEOUT_S", 0.05)  # with no time allowed for the start-up, less
    monkeypatch.setattr(renderer, "START_TIMEOUT_S", 0)  # than a fresh renderer's imports take
    monkeypatch.setenv("DISPLAY", ":98")  # another display: a renderer process of its own (OSMesa never opens it)
    with pytest.raises(RenderError, match=r"^rendering the model took longer than 0.05 s and was stopped$"):
        render(write(tmp_path, "box.glb", exported(peg_box())["glb"]), views=1, size=64, max_faces=10_000)
