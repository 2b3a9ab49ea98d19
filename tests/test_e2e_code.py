"""The Code tab in a real headless Chromium, against a fake Ollama server: the language selector, the
extracted code highlighted (Pygments' spans in the page) with its error line banded, and the iteration
table's valid/invalid column. What only a browser can show; the details are in test_ui_artifact.py.

Set LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's screenshot of a Code run from this test.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from llamaburn.testing import FakeServer, Script
from tests.system import needs_debian_packages, served_app

CHROMIUM = "/usr/bin/chromium"
INVALID_RUST = ["Here:\n```rust\n", "fn add(a: i32, b: i32) -> i32 {\n", "    let = ;\n", "}\n```\n"]
VALID_RUST = ["```rust\n", "fn add(a: i32, b: i32) -> i32 {\n", "    a + b\n", "}\n```"]
pytestmark = needs_debian_packages("browser")


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=INVALID_RUST, ttft_s=0.01, tokens_per_s=100)) as server:
        yield server


@pytest.fixture
def page(fake: FakeServer, tmp_path: Path) -> Iterator[Page]:
    env = {"OLLAMA_HOST": fake.url, "LLAMABURN_DB_URL": f"sqlite:///{tmp_path / 'code.db'}",
           "NICEGUI_STORAGE_PATH": str(tmp_path / "storage")}
    with served_app(Path(sys.executable), tmp_path, **env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            expect(page.get_by_text(re.compile(r"^connected"))).to_be_visible(timeout=15_000)  # the page is live
            yield page
        finally:
            browser.close()


def code_form(page: Page) -> Locator:
    """The Code tab's form: the text tab's form has an Iterations input too."""
    return page.locator(".q-tab-panel").filter(has=page.get_by_label("Language"))


def run(page: Page, iterations: int) -> None:
    form = code_form(page)
    form.get_by_label("Iterations").fill(str(iterations))
    form.get_by_label("Warmup").fill("0")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)


def validity_cells(page: Page) -> list[str]:
    """The live iteration table's Syntax validity column, top to bottom."""
    table = page.locator(".q-table").filter(has=page.get_by_role("columnheader", name="Syntax validity"))
    headers = table.get_by_role("columnheader").all_inner_texts()
    column = [header.strip() for header in headers].index("Syntax validity (%)")
    return [row.locator("td").nth(column).inner_text() for row in table.locator("tbody tr").all()]


def test_the_code_tab_shows_highlighted_code_its_error_line_and_a_valid_column(page: Page, fake: FakeServer) -> None:
    page.get_by_role("tab", name="Code").click()
    code_form(page).get_by_label("Language").click()
    options = page.get_by_role("option")
    expect(options).to_have_text(["python", "javascript", "typescript", "rust", "go", "c", "cpp", "java"])
    options.filter(has_text=re.compile(r"^rust$")).click()
    expect(code_form(page).get_by_label("Language")).to_have_value("rust")

    run(page, 2)
    code = page.locator(".artifact-code")
    expect(code).to_be_visible()
    expect(page.get_by_text("Extracted code", exact=True)).to_be_visible()
    expect(code).to_contain_text("fn add(a: i32, b: i32) -> i32 {")
    expect(code).not_to_contain_text("Here:")  # the fenced block, not the whole answer
    expect(code.locator(".codehilite span.k").first).to_have_text("fn")  # Pygments' rust keyword token
    expect(page.get_by_text("Syntax error at line 2", exact=True)).to_be_visible()
    band = code.locator("pre > code").evaluate(
        "c => { const s = getComputedStyle(c); return [s.backgroundImage, parseFloat(s.lineHeight)] }"
    )
    assert band[0].startswith("linear-gradient") and band[1] > 0
    if shots := os.environ.get("LLAMABURN_SCREENSHOTS"):
        page.locator(".q-card").filter(has=code).screenshot(path=str(Path(shots) / "code-live.png"))
    assert validity_cells(page) == ["invalid", "invalid"]

    fake.script = Script(tokens=VALID_RUST, ttft_s=0.01, tokens_per_s=100)
    run(page, 1)
    expect(code).to_contain_text("a + b")
    expect(page.get_by_text(re.compile(r"^Syntax error at line"))).to_have_count(0)
    assert code.locator("pre > code").evaluate("c => getComputedStyle(c).backgroundImage") == "none"
    assert validity_cells(page) == ["valid"]
