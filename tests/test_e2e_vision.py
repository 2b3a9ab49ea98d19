"""Image and Video end to end in a real headless Chromium, against the fake vision server: drop a file on the
tab's upload, see its preview (the picture; the video's sampled frames as a strip), run, see the answer
stream and the pictures that were sent, then the results, history and a comparison of two runs.

Set LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's vision screenshot from this test.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from llamaburn.testing import Script
from llamaburn.testing.vision import VisionServer
from tests import test_e2e
from tests.system import needs_debian_packages, served_app
from tests.test_e2e import run, screenshot
from tests.vision_media import CLIP_SIZE, clip, encoded, painted

pytestmark = needs_debian_packages("browser")
MODEL, OTHER_MODEL = "gemma3:4b", "llava:7b"
SOURCE = painted(160, 120)
page = test_e2e.page  # the real-browser fixture, shared
ANSWER = "A gradient from black to red and green, crossed by a white diagonal line."


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=[f"{word} " for word in ANSWER.split()], ttft_s=0.02, tokens_per_s=40)
    with VisionServer(script, models=[MODEL, OTHER_MODEL], per_picture_s=0.1) as server:
        yield server


@pytest.fixture
def app_url(seeing: VisionServer, tmp_path: Path) -> Iterator[str]:
    with served_app(Path(sys.executable), tmp_path, OLLAMA_HOST=seeing.url,
                    LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
                    NICEGUI_STORAGE_PATH=str(tmp_path / "storage")) as url:
        yield url


def drop(page: Page, content: bytes, name: str, media_type: str) -> None:
    """Drop a file on the visible upload as a user's drag and drop does: dragover shows Quasar's drop zone,
    and a drop on it with the file in its DataTransfer uploads it."""
    transfer = page.evaluate_handle(
        """([data, name, type]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type}));
            return transfer;
        }""",
        [base64.b64encode(content).decode(), name, media_type],
    )
    uploader = page.locator(".q-uploader:visible")
    uploader.dispatch_event("dragover", {"dataTransfer": transfer})
    uploader.locator(".q-uploader__dnd").dispatch_event("drop", {"dataTransfer": transfer})


def test_an_image_run_in_a_browser_from_the_drop_to_the_comparison(
    app_url: str, page: Page, seeing: VisionServer
) -> None:
    seeing.expected = [SOURCE]
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_role("tab", name="Image").click()
    drop(page, encoded(SOURCE, "PNG"), "gradient.png", "image/png")
    expect(page.get_by_text("gradient.png: image/png")).to_be_visible(timeout=10_000)
    preview = page.locator(".q-img:visible")
    expect(preview).to_have_count(1, timeout=10_000)  # the picture as it will be sent

    run(page, 2)
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    expect(page.locator(".whitespace-pre-wrap:visible")).to_have_text(ANSWER + " ")
    expect(page.get_by_text("160x120", exact=False)).to_be_visible()  # the sent picture's caption
    expect(page.locator(".q-img:visible")).to_have_count(2)  # the preview and the picture that was sent
    expect(page.get_by_text("Image processing time").first).to_be_visible()  # the results' own metric
    screenshot(page, "vision-live")
    assert all(len(pictures) == 1 for pictures in seeing.seen[1::2])  # each request with pictures got the one

    page.locator(".q-drawer").get_by_label("Model", exact=True).click()  # not history's Model filter
    page.get_by_role("option", name=OTHER_MODEL).click()
    run(page, 2)
    rows = page.locator(".q-table tbody tr").filter(has_text="completed")
    expect(rows).to_have_count(2, timeout=20_000)
    page.get_by_role("tab", name="History").click()  # the dashboard's History view
    for index in range(2):
        rows.nth(index).locator(".q-checkbox").click()
    page.get_by_role("button", name="Compare Selected").click()
    expect(page.get_by_text(f"Comparison: {OTHER_MODEL} vs {MODEL}")).to_be_visible()
    expect(page.get_by_text("Image processing time").last).to_be_visible()


def test_a_video_upload_previews_its_sampled_frames_as_a_strip(
    app_url: str, page: Page, seeing: VisionServer, tmp_path: Path
) -> None:
    seeing.expected = [CLIP_SIZE] * 3
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_role("tab", name="Video").click()
    drop(page, clip(tmp_path / "clip.mp4", seconds=3.0).read_bytes(), "clip.mp4", "video/mp4")
    expect(page.locator(".q-img:visible")).to_have_count(3, timeout=15_000)  # frames at 0, 1 and 2 s
    for label in ("t=0.0 s", "t=1.0 s", "t=2.0 s"):
        expect(page.get_by_text(label, exact=True).first).to_be_visible()
    page.get_by_label("Fps").fill("2")
    page.get_by_role("button", name="Preview again").click()  # the strip follows the form's settings
    expect(page.locator(".q-img:visible")).to_have_count(6, timeout=15_000)  # frames at 0, 0.5 ... 2.5 s
    page.get_by_label("Fps").fill("1")
    page.get_by_role("button", name="Preview again").click()
    expect(page.locator(".q-img:visible")).to_have_count(3, timeout=15_000)
    run(page, 1)
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Frame rate").first).to_be_visible()
    expect(page.locator(".q-img:visible")).to_have_count(6)  # the preview's 3 and the 3 frames sent


def test_bad_files_and_a_blind_model_are_told_in_the_page_and_nothing_is_stored(
    app_url: str, page: Page, seeing: VisionServer, tmp_path: Path
) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_text("Event log").click()  # where each refusal is logged
    page.get_by_role("tab", name="Image").click()
    drop(page, b"<html><body>not a picture</body></html>", "cat.png", "image/png")
    expect(page.get_by_text("cat.png: the upload is not a PNG, JPEG, WebP or GIF image")).to_be_visible(timeout=10_000)
    drop(page, encoded(SOURCE, "PNG")[:90], "cut.png", "image/png")
    expect(page.get_by_text("image_path: Value error, the image cannot be decoded", exact=False)).to_be_visible(
        timeout=10_000
    )
    page.get_by_role("button", name="Run").click()  # the cut picture is still the field's value
    expect(page.get_by_text("error: image_path: Value error, the image cannot be decoded", exact=False)).to_be_visible()
    drop(page, encoded(SOURCE, "PNG"), "gradient.png", "image/png")
    expect(page.locator(".q-img:visible")).to_have_count(1, timeout=10_000)
    seeing.vision = False
    page.get_by_role("button", name="Run").click()
    message = f"{MODEL} has no vision capability: pick a vision model such as gemma3, llava or qwen2.5vl"
    expect(page.get_by_text(f"error: {message}")).to_be_visible(timeout=10_000)
    with contextlib.closing(sqlite3.connect(tmp_path / "e2e.db")) as history:
        assert history.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert [r for r in seeing.requests if r.path == "/api/chat"] == []
