"""End to end in a real headless Chromium: the app as users start it, against a real fake Ollama server.

Set LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's comparison screenshot from this test (the
dashboard's own come from tests/test_e2e_dashboard.py).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.system import needs_debian_packages, served_app

CHROMIUM = "/usr/bin/chromium"
OTHER_MODEL = "qwen3:4b"
pytestmark = needs_debian_packages("browser")


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=40, ttft_s=0.02, tokens_per_s=60), models=[DEFAULT_MODEL, OTHER_MODEL]) as server:
        yield server


@pytest.fixture
def app_url(fake: FakeServer, tmp_path: Path) -> Iterator[str]:
    """The app as a user starts it, its Ollama the fake server."""
    with served_app(Path(sys.executable), tmp_path, OLLAMA_HOST=fake.url,
                    LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
                    NICEGUI_STORAGE_PATH=str(tmp_path / "storage")) as url:
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser.new_page(viewport={"width": 1280, "height": 1000})
        browser.close()


def screenshot(page: Page, name: str) -> None:
    if folder := os.environ.get("LLAMABURN_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def run(page: Page, iterations: int) -> None:
    # A tab switched just before leaves the old tab's form in the page until its panel's transition ends.
    expect(page.get_by_label("Iterations")).to_have_count(1)
    page.get_by_label("Iterations").fill(str(iterations))
    page.get_by_label("Warmup").fill("0")
    page.get_by_role("button", name="Run").click()


def test_benchmark_live_history_and_comparison_in_a_browser(app_url: str, page: Page) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    tabs = page.locator(".q-drawer .q-tab")
    expect(tabs).to_have_count(6)
    expect(page.locator(".q-drawer .q-tab--active")).to_contain_text("Text")
    expect(page.get_by_text("Coming Soon")).to_have_count(0)
    expect(page.get_by_text("Q4_K_M")).to_be_visible()
    page.get_by_role("tab", name="3D").click()
    expect(page.get_by_text("3D model file")).to_be_visible()
    page.get_by_role("tab", name="Text").click()
    expect(page.get_by_text("3D model file")).to_be_hidden()  # the panels' transition is over: one form

    run(page, 3)
    expect(page.get_by_text("Iteration 2/3", exact=True)).to_be_visible(timeout=15_000)
    live = page.locator(".whitespace-pre-wrap:visible")  # the answer; the thinking label stays hidden here
    expect(live).to_contain_text("t0 t1 t2")  # continuous text, not one token per line
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    expect(live).to_have_text(" ".join(f"t{i}" for i in range(40)) + " ")
    expect(page.locator(".q-table tbody tr").filter(has_text=DEFAULT_MODEL)).to_have_count(1, timeout=5_000)

    page.locator(".q-drawer").get_by_label("Model", exact=True).click()  # not history's Model filter
    page.get_by_role("option", name=OTHER_MODEL).click()
    run(page, 2)
    expect(page.locator(".q-table tbody tr").filter(has_text="completed")).to_have_count(2, timeout=20_000)

    page.reload()
    page.get_by_role("tab", name="History").click()
    rows = page.locator(".q-table tbody tr").filter(has_text="completed")
    expect(rows).to_have_count(2, timeout=15_000)
    for index in range(2):
        rows.nth(index).locator(".q-checkbox").click()
    page.get_by_role("button", name="Compare Selected").click()
    expect(page.get_by_text(f"Comparison: {OTHER_MODEL} vs {DEFAULT_MODEL}")).to_be_visible()
    expect(page.get_by_text("Winner", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^[+-]\d+\.\d%$")).first).to_be_visible()
    expect(page.get_by_text("Diff % (llama3.2:1b)")).to_be_visible()
    expect(page.locator(".nicegui-echart canvas").last).to_be_visible()
    page.wait_for_timeout(500)  # let ECharts finish its first frame
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.nicegui-echart canvas')]"
        ".filter(c => c.offsetParent !== null).map(c => [c.clientWidth, c.clientHeight])"
    )
    assert len(sizes) == 3, sizes  # two comparison charts and the trend, drawn at their real size
    assert all(width > 300 and height > 200 for width, height in sizes), sizes
    screenshot(page, "comparison")
