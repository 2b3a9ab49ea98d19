"""The Sweep panel in a real headless Chromium: a small sweep run from the page draws its curves."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.system import needs_debian_packages, served_app
from tests.test_e2e import page

pytestmark = needs_debian_packages("browser")
__all__ = ["page"]  # the browser fixture, shared with the end-to-end test


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    with FakeServer(Script(tokens=10, tokens_per_s=200), models=[DEFAULT_MODEL]) as fake, served_app(
        Path(sys.executable), tmp_path, OLLAMA_HOST=fake.url, LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 's.db'}",
        NICEGUI_STORAGE_PATH=str(tmp_path / "storage"),
    ) as url:
        yield url


def test_a_sweep_from_the_page_shows_its_line_charts(app_url: str, page: Page) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
    page.get_by_label("Iterations").fill("1")
    page.get_by_label("Warmup").fill("0")
    page.get_by_role("tab", name="Sweep").click()  # the dashboard's Sweep view, beside the form
    page.get_by_label("Concurrency").fill("1,2")
    page.get_by_role("button", name="Sweep").click()
    expect(page.get_by_text("2 of 2 points (done)")).to_be_visible(timeout=20_000)
    charts = page.locator(".nicegui-echart[class*='w-[32rem]']")  # the Sweep panel's own charts
    expect(charts).to_have_count(4)  # throughput, per-stream TPS, TTFT p50 and p95 (no SLO: no goodput)
    for index in range(4):
        expect(charts.nth(index).locator("canvas").first).to_be_visible()
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
