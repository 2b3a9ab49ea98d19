"""The dashboard in a real headless Chromium, at the desktop sizes it is designed for and at phone width: the
settings drawer beside the live run, the live charts filling during a run, dark mode across a reload, history's
TPS and TTFT columns sorted, and a benchmark run from a phone.

Set LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's screenshots from these tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.system import needs_debian_packages, served_app

CHROMIUM = "/usr/bin/chromium"
DESKTOPS = [(1440, 900), (1280, 800)]
pytestmark = needs_debian_packages("browser")
CHARTS = """() => [...document.querySelectorAll('.nicegui-echart')].map(el => {
    const option = getElement(el).chart.getOption();
    return {title: option.title?.[0]?.text ?? '', dark: option.darkMode ?? null,
            points: (option.series ?? []).map(s => (s.data ?? []).filter(p => p !== null).length)};
})"""


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    # 60 tokens at 40 tok/s: 1.5 s an iteration, so a test sees the charts mid-run
    with FakeServer(Script(tokens=60, ttft_s=0.05, tokens_per_s=40), models=[DEFAULT_MODEL]) as server:
        yield server


@pytest.fixture
def app_url(fake: FakeServer, tmp_path: Path) -> Iterator[str]:
    with served_app(Path(sys.executable), tmp_path, OLLAMA_HOST=fake.url,
                    LLAMABURN_DB_URL=f"sqlite:///{tmp_path / 'dashboard.db'}",
                    NICEGUI_STORAGE_PATH=str(tmp_path / "storage")) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()


def screenshot(page: Page, name: str) -> None:
    if folder := os.environ.get("LLAMABURN_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def opened(browser: Browser, url: str, width: int, height: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
    return page


def run(page: Page, iterations: int) -> None:
    page.get_by_label("Iterations").fill(str(iterations))
    page.get_by_label("Warmup").fill("0")
    page.get_by_role("button", name="Run").click()


def charts(page: Page) -> dict[str, dict[str, Any]]:
    return {chart["title"]: chart for chart in page.evaluate(CHARTS) if chart["title"]}


@pytest.mark.parametrize(("width", "height"), DESKTOPS, ids=[f"{w}x{h}" for w, h in DESKTOPS])
def test_the_form_beside_the_live_run_and_its_charts_fill(browser: Browser, app_url: str, width: int,
                                                           height: int) -> None:
    page = opened(browser, app_url, width, height)
    expect(page.get_by_text("No runs yet: pick a model on the left and press Run")).to_be_visible()
    if width == DESKTOPS[0][0]:
        screenshot(page, "main")
    run(page, 3)
    expect(page.get_by_text("Iteration 1/3", exact=True)).to_be_visible(timeout=15_000)
    form = page.locator(".q-drawer").bounding_box()
    live = page.locator(".q-card").filter(has=page.get_by_text("Iteration 1/3", exact=True)).bounding_box()
    assert form is not None and live is not None
    assert form["x"] + form["width"] <= live["x"] + 1, (form, live)  # side by side, the form on the left
    assert live["x"] + live["width"] <= width + 1 and live["width"] > width / 2, (form, live)
    assert live["y"] < height / 4 and form["y"] < height / 4, (form, live)  # both at the top, no scrolling

    page.wait_for_function(
        "() => [...document.querySelectorAll('.nicegui-echart')].some(el => {"
        " const o = getElement(el).chart.getOption();"
        " return o.title?.[0]?.text === 'Tokens/s, this iteration' && o.series[0].data.length >= 3 })",
        timeout=10_000,
    )
    rate = charts(page)["Tokens/s, this iteration"]
    assert rate["points"][0] >= 3  # a bucket every 250 ms, while the iteration streams
    assert page.title().endswith("/3 · LlamaBurn")
    expect(page.get_by_text("Iteration 2/3", exact=True)).to_be_visible(timeout=15_000)
    assert page.title() == "2/3 · LlamaBurn"
    expect(page.get_by_text("CPU ", exact=False).first).to_be_visible()
    if width == DESKTOPS[0][0]:
        screenshot(page, "live-run")
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    strip = next(chart for title, chart in charts(page).items() if title.endswith("per iteration (tok/s)"))
    assert strip["points"] == [3]  # a bar for each iteration, all three filled
    expect(page.get_by_text("Avg TPS")).to_be_visible()
    assert page.title() == "LlamaBurn"


def test_dark_mode_survives_a_reload_and_the_charts_follow(browser: Browser, app_url: str) -> None:
    page = opened(browser, app_url, *DESKTOPS[1])
    run(page, 1)
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    assert not page.evaluate("() => document.body.classList.contains('body--dark')")
    page.locator("button").filter(has_text="dark_mode").click()
    page.wait_for_function("() => document.body.classList.contains('body--dark')")
    page.wait_for_timeout(300)  # the charts' repaint follows the toggle's round trip
    assert charts(page) and all(chart["dark"] is True for chart in charts(page).values())
    page.reload()
    expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
    page.wait_for_function("() => document.body.classList.contains('body--dark')", timeout=5_000)
    expect(page.get_by_text("Last run: " + DEFAULT_MODEL)).to_be_visible()
    page.wait_for_timeout(300)
    assert all(chart["dark"] is True for chart in charts(page).values())  # the last result's chart, dark
    screenshot(page, "dark")
    page.locator("button").filter(has_text="light_mode").click()
    page.wait_for_function("() => !document.body.classList.contains('body--dark')")
    page.reload()
    expect(page.get_by_text("connected · 1 model")).to_be_visible(timeout=15_000)
    page.wait_for_timeout(500)
    assert not page.evaluate("() => document.body.classList.contains('body--dark')")


def test_history_has_tps_and_ttft_columns_and_sorts_by_them(browser: Browser, app_url: str, fake: FakeServer) -> None:
    page = opened(browser, app_url, *DESKTOPS[0])
    for tokens_per_s, ttft_s in ((40, 0.05), (120, 0.01), (80, 0.2)):
        fake.script = Script(tokens=20, ttft_s=ttft_s, tokens_per_s=tokens_per_s)
        run(page, 1)
        expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
        expect(page.get_by_role("button", name="Run")).to_be_enabled()
    page.get_by_role("tab", name="History").click()
    table = page.locator(".q-table").filter(has_text="Backend")  # history's, not the live iteration table
    expect(table.locator("tbody tr")).to_have_count(3, timeout=5_000)
    headers = table.locator("thead th").all_inner_texts()
    assert [h.strip().replace("arrow_upward", "").strip() for h in headers][1:5] == [
        "Model", "TPS (tok/s)", "TTFT (ms)", "Date"]

    def column(name: str) -> list[float]:
        index = [h.replace("arrow_upward", "").strip() for h in table.locator("thead th").all_inner_texts()].index(name)
        cells = table.locator(f"tbody tr td:nth-child({index + 1})").all_inner_texts()
        return [float(text.replace(",", "")) for text in cells]

    table.locator("thead th").filter(has_text="TPS (tok/s)").click()
    tps = column("TPS (tok/s)")
    assert tps == sorted(tps) and tps[-1] > 100 > tps[0]
    table.locator("thead th").filter(has_text="TPS (tok/s)").click()
    assert column("TPS (tok/s)") == sorted(tps, reverse=True)
    table.locator("thead th").filter(has_text="TTFT (ms)").click()
    ttft = column("TTFT (ms)")
    assert ttft == sorted(ttft) and ttft[0] < 50 < 150 < ttft[-1]
    page.get_by_placeholder("Search").fill("nothing-like-this")
    expect(table.locator("tbody tr td").filter(has_text=DEFAULT_MODEL)).to_have_count(0)
    page.get_by_placeholder("Search").fill("")
    expect(table.locator("tbody tr")).to_have_count(3)
    screenshot(page, "history")


def test_a_phone_width_page_still_runs_a_benchmark(browser: Browser, app_url: str) -> None:
    page = opened(browser, app_url, 390, 844)
    drawer = page.locator(".q-drawer")
    if not page.get_by_label("Iterations").is_visible():
        page.locator("button").filter(has_text="menu").click()
    expect(page.get_by_label("Iterations")).to_be_visible()
    run(page, 2)
    page.mouse.click(385, 600)  # a tap on the backdrop beside the drawer folds it, to watch the run
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    assert drawer.bounding_box() is None or drawer.bounding_box()["x"] < 0  # type: ignore[index]
    expect(page.get_by_text("Avg TPS")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390 + 1, width  # nothing wider than the phone: no sideways scrolling
    screenshot(page, "phone")
