"""3D end to end in a real headless Chromium, against the fake vision server: drop a model on the 3D tab's
upload, see its rendered views as the preview, run, see the answer stream and the views that were sent, then
the results (render time first), history and a comparison of two runs; and a bad model told in the page,
with nothing stored.

The app renders with its own renderer process (VTK on OSMesa), as a user's does. Set
LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's 3D screenshot from this test.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from llamaburn.testing import Script
from llamaburn.testing.vision import VisionServer
from tests import test_e2e
from tests.meshes import NO_FACES, exported, peg_box
from tests.system import needs_debian_packages, served_app
from tests.test_e2e import run, screenshot
from tests.test_e2e_vision import drop

pytestmark = [needs_debian_packages("browser"), needs_debian_packages("render")]
MODEL, OTHER_MODEL = "gemma3:4b", "llava:7b"
page = test_e2e.page  # the real-browser fixture, shared
ANSWER = "A tall grey box with a round peg along one side."
VIEWS = ("front", "side", "top", "isometric")


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=[f"{word} " for word in ANSWER.split()], ttft_s=0.02, tokens_per_s=40)
    server = VisionServer(script, models=[MODEL, OTHER_MODEL], per_picture_s=0.05, expected=[(512, 512)] * 4)
    with server:  # (its __enter__ is typed as the base FakeServer's)
        yield server


@pytest.fixture
def app_url(seeing: VisionServer, tmp_path: Path) -> Iterator[str]:
    with served_app(Path(sys.executable), tmp_path, OLLAMA_HOST=seeing.url,
                    LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
                    NICEGUI_STORAGE_PATH=str(tmp_path / "storage")) as url:
        yield url


def shows_a_model(image: Image.Image) -> bool:
    """Some, not all, of the picture is something other than the white background."""
    share = float(np.any(np.asarray(image.convert("RGB")) != 255, axis=2).mean())
    return 0.05 < share < 0.8


def test_a_3d_run_in_a_browser_from_the_drop_to_the_comparison(
    app_url: str, page: Page, seeing: VisionServer
) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_role("tab", name="3D").click()
    drop(page, exported(peg_box())["glb"], "peg-box.glb", "model/gltf-binary")
    expect(page.get_by_text("peg-box.glb: model/gltf-binary")).to_be_visible(timeout=10_000)
    preview = page.locator(".q-img:visible")
    expect(preview).to_have_count(4, timeout=30_000)  # the four rendered views, as they will be sent
    for view in VIEWS:
        expect(page.get_by_text(view, exact=True).first).to_be_visible()
    thumbnails = [preview.nth(index).locator("img").get_attribute("src") or "" for index in range(4)]
    assert all(src.startswith("data:image/") for src in thumbnails) and len(set(thumbnails)) == 4
    page.get_by_label("Views").fill("6")
    page.get_by_role("button", name="Preview again").click()  # the views follow the form's settings
    expect(page.locator(".q-img:visible")).to_have_count(6, timeout=30_000)
    expect(page.get_by_text("other side", exact=True).first).to_be_visible()
    page.get_by_label("Views").fill("4")
    page.get_by_role("button", name="Preview again").click()
    expect(page.locator(".q-img:visible")).to_have_count(4, timeout=30_000)

    run(page, 1)
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=60_000)
    expect(page.locator(".whitespace-pre-wrap:visible")).to_have_text(ANSWER + " ")
    expect(page.get_by_text("512x512", exact=False).first).to_be_visible()  # a sent view's caption
    expect(page.locator(".q-img:visible")).to_have_count(8)  # the preview's four and the four views sent
    expect(page.get_by_text("Avg Render time").first).to_be_visible()  # the results' headline card
    screenshot(page, "graphics3d-live")
    [sent] = [pictures for pictures in seeing.seen if pictures]  # the server's own decodings of what it got
    assert len(sent) == 4 and all(shows_a_model(picture) for picture in sent)
    assert len({picture.tobytes() for picture in sent}) == 4  # four different views

    page.locator(".q-drawer").get_by_label("Model", exact=True).click()  # not history's Model filter
    page.get_by_role("option", name=OTHER_MODEL).click()
    run(page, 1)
    rows = page.locator(".q-table tbody tr").filter(has_text="completed")
    expect(rows).to_have_count(2, timeout=60_000)
    page.get_by_role("tab", name="History").click()  # the dashboard's History view
    for index in range(2):
        rows.nth(index).locator(".q-checkbox").click()
    page.get_by_role("button", name="Compare Selected").click()
    expect(page.get_by_text(f"Comparison: {OTHER_MODEL} vs {MODEL}")).to_be_visible()
    expect(page.get_by_text("Render time").last).to_be_visible()


def test_a_model_with_no_faces_is_told_in_the_page_and_nothing_is_stored(
    app_url: str, page: Page, seeing: VisionServer, tmp_path: Path
) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_text("Event log").click()  # where each refusal is logged
    page.get_by_role("tab", name="3D").click()
    drop(page, b"<html><body>not a model</body></html>", "chair.glb", "model/gltf-binary")
    expect(page.get_by_text("chair.glb: the upload is not a glTF, GLB, OBJ, STL, PLY or OFF model")).to_be_visible(
        timeout=10_000
    )
    drop(page, NO_FACES["obj-vertices-only"], "points.obj", "model/obj")
    expect(page.get_by_text("model_path: the OBJ model has no faces", exact=False)).to_be_visible(timeout=10_000)
    page.get_by_role("button", name="Run").click()  # the empty model is still the field's value
    expect(page.get_by_text("error: model_path: the OBJ model has no faces", exact=False)).to_be_visible()
    with contextlib.closing(sqlite3.connect(tmp_path / "e2e.db")) as history:
        assert history.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert [r for r in seeing.requests if r.path == "/api/chat"] == []
