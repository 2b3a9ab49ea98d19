"""The Sweep panel in a real headless Chromium: a small sweep run from the page draws its curves, its heatmaps
and names its best cells."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.system import needs_debian_packages, served_app
from tests.test_e2e import page

OTHER = "qwen2.5:0.5b"

pytestmark = needs_debian_packages("browser")
__all__ = ["page"]  # the browser fixture, shared with the end-to-end test


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    with FakeServer(Script(tokens=10, tokens_per_s=200), models=[DEFAULT_MODEL, OTHER]) as fake, served_app(
        Path(sys.executable), tmp_path, OLLAMA_HOST=fake.url, LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 's.db'}",
        NICEGUI_STORAGE_PATH=str(tmp_path / "storage"),
    ) as url:
        yield url


def test_a_sweep_from_the_page_shows_its_curves_heatmaps_and_best_cells(
    app_url: str, page: Page, tmp_path: Path
) -> None:
    page.goto(app_url)
    expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
    page.get_by_label("Iterations").fill("1")
    page.get_by_label("Warmup").fill("0")
    page.get_by_role("tab", name="Sweep").click()  # the dashboard's Sweep view, beside the form
    page.get_by_label("Models (comma-separated; empty: the header's)").fill(f"{DEFAULT_MODEL},{OTHER}")
    page.get_by_label("Concurrency").fill("1,2")
    page.get_by_label("SLO: TTFT ≤ ms").fill("10000")
    page.get_by_role("button", name="Sweep", exact=True).click()
    expect(page.get_by_text("4 of 4 points (done)")).to_be_visible(timeout=30_000)
    lines = page.locator(".nicegui-echart[class*='h-72']")  # the Sweep panel's curves
    heatmaps = page.locator(".nicegui-echart[class*='h-80']")  # and its heatmaps
    expect(lines).to_have_count(5)  # throughput, per-stream TPS, TTFT p50 and p95, goodput (an SLO is set)
    expect(heatmaps).to_have_count(3)  # throughput, TTFT p95, goodput: concurrency across, the models down
    for chart in [*(lines.nth(i) for i in range(5)), *(heatmaps.nth(i) for i in range(3))]:
        expect(chart.locator("canvas").first).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
    expect(page.get_by_text("Best Aggregate throughput: ")).to_be_visible()
    expect(page.get_by_text("Best Goodput: ")).to_be_visible()
    page.locator(".nicegui-card").filter(has_text="Sweep").last.screenshot(path=str(tmp_path / "sweep.png"))


DARK = """() => [...document.querySelectorAll('.nicegui-echart[class*="h-72"], .nicegui-echart[class*="h-80"]')]
    .map(el => getElement(el).chart.getOption().darkMode ?? null)"""


@pytest.fixture
def slow_app(tmp_path: Path) -> Iterator[tuple[str, str]]:
    # 20 tokens at 20 tok/s: about 1 s a point, so a test can cancel the sweep after its first point
    with FakeServer(Script(tokens=20, tokens_per_s=20), models=[DEFAULT_MODEL]) as fake, served_app(
        Path(sys.executable), tmp_path, OLLAMA_HOST=fake.url, LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 'r.db'}",
        NICEGUI_STORAGE_PATH=str(tmp_path / "storage"),
    ) as url:
        yield url, f"sqlite:///{tmp_path / 'r.db'}"


def test_a_cancelled_sweep_resumes_from_the_page_and_its_charts_follow_dark_mode(
    slow_app: tuple[str, str], page: Page
) -> None:
    url, db = slow_app
    page.goto(url)
    expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
    page.get_by_label("Iterations").fill("1")
    page.get_by_label("Warmup").fill("0")
    page.get_by_role("tab", name="Sweep").click()
    page.get_by_label("Concurrency").fill("1,2,3,4")
    page.get_by_role("button", name="Sweep", exact=True).click()
    expect(page.get_by_text("1 of 4 points")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Cancel sweep").click()
    expect(page.get_by_text("points (cancelled)")).to_be_visible(timeout=30_000)
    resume_id = page.get_by_label("Sweep id to resume")
    sweep_id = resume_id.input_value()
    assert len(sweep_id) == 36  # the panel offers the sweep it ran, by its whole id
    kept = {run.id for run in Store(db).sweep_runs(sweep_id) if run.config["sweep"].get("result")}
    assert kept  # at least the first point finished before the cancel

    page.get_by_role("button", name="Resume sweep").click()
    expect(page.get_by_text("4 of 4 points (done)")).to_be_visible(timeout=60_000)
    runs = Store(db).sweep_runs(sweep_id)
    # each cell exactly once: 1 + 2 + 3 + 4 streams, the finished cells' runs kept as they were
    assert sorted(int(run.config["sweep"]["cell"]) for run in runs) == [0, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    assert kept <= {run.id for run in runs}
    assert all(run.status == "completed" for run in runs)

    assert set(page.evaluate(DARK)) == {False}
    page.locator("button").filter(has_text="dark_mode").click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    page.wait_for_function(f"() => ({DARK})().every(dark => dark === true)", timeout=5_000)
    assert len(page.evaluate(DARK)) >= 4  # the curves and heatmaps, repainted
