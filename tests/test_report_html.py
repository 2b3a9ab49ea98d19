"""The HTML report in a real headless Chromium, opened from disk with every non-file request aborted: it
draws its charts from the inlined ECharts, shows its tables, and asks the network for nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from llamaburn.engine.registry import load_registry
from llamaburn.report import build_report, render
from llamaburn.storage.store import Store
from tests.reports import FAST, SLOW, store_runs
from tests.system import needs_debian_packages

CHROMIUM = "/usr/bin/chromium"
pytestmark = needs_debian_packages("browser")


@pytest.fixture
def offline_page() -> Iterator[tuple[Page, list[str]]]:
    """A page whose every request but a ``file:`` one is aborted and recorded."""
    blocked: list[str] = []

    def block(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.route(lambda url: not url.startswith("file:"), block)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, blocked
        browser.close()
        assert errors == []


def test_the_html_report_draws_its_charts_and_tables_offline(
    tmp_path: Path, offline_page: tuple[Page, list[str]]
) -> None:
    page, blocked = offline_page
    store = Store()
    report = build_report(store, load_registry().modalities, store_runs(store))
    path = tmp_path / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")

    page.goto(path.as_uri())

    chart_ids = [chart.id for chart in report.charts]
    assert len(chart_ids) >= 3  # the comparison's, and each run's iterations
    expect(page.locator("body")).to_have_attribute("data-charts", str(len(chart_ids)))
    for chart_id in chart_ids:
        expect(page.locator(f"#{chart_id} canvas, #{chart_id} svg").first).to_be_visible()
        box = page.locator(f"#{chart_id}").bounding_box()
        assert box is not None and box["height"] > 200
    avg_tps = page.locator("#comparison-table tr[data-key=avg_tps] td")
    expect(avg_tps.nth(2)).to_have_text("110.00 tok/s")
    expect(avg_tps.nth(2)).to_have_class("num winner")
    expect(avg_tps.nth(4)).to_have_text("-50.0%")
    expect(page.get_by_role("heading", name=f"llama3.2:1b @ host-a ({FAST[:8]})")).to_be_visible()
    expect(page.get_by_role("heading", name=f"qwen3:4b @ host-b ({SLOW[:8]})")).to_be_visible()
    expect(page.locator("#run-0 table.config")).to_contain_text("Say <hi> | twice")  # escaped, not markup
    expect(page.locator("#run-0 table.system")).to_contain_text("cpu.cores")
    expect(page.locator("#run-0 table.summary")).to_contain_text("119.80 tok/s")
    assert blocked == []


def test_the_network_guard_catches_what_a_page_asks_for(tmp_path: Path, offline_page: tuple[Page, list[str]]) -> None:
    """The control for the test above: a page that loads a remote image is caught, so an empty list means
    the report asked for nothing."""
    page, blocked = offline_page
    path = tmp_path / "remote.html"
    path.write_text('<img src="https://example.com/logo.png" alt="">', encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert blocked == ["https://example.com/logo.png"]
