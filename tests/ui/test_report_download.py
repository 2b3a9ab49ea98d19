""""Download report" on the page: for a finished run, for the runs selected in history (one, or several with their
comparison) and for a comparison shown, the bytes ``llamaburn.report`` renders, handed over by ui.download."""

from __future__ import annotations

from tests.harness.moments import until
from tests.harness.page import Page
from tests.reports import FAST, SLOW, store_runs


async def stored(page: Page) -> list[dict[str, str]]:
    """The two known runs, stored behind the page's back, then shown by reopening it."""
    store_runs(page.service.store)
    await page.user.open("/")
    await until(lambda: len(page.element("history-table").rows) == 2)
    return list(page.element("history-table").rows)


def select(page: Page, rows: list[dict[str, str]]) -> None:
    page.user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["id"] for row in rows]}
    )


async def test_history_downloads_the_report_of_the_selected_run(page: Page) -> None:
    rows = await stored(page)
    assert not page.element("history-report").enabled
    select(page, [row for row in rows if row["id"] == SLOW])
    assert page.element("history-report").enabled
    page.user.find(marker="history-report").click()
    html = (await page.user.download.next(timeout=10)).text
    assert html.startswith("<!DOCTYPE html>") and f"<code>{SLOW}</code>" in html
    assert 'id="comparison-table"' not in html  # one run: nothing to compare
    page.user.find(marker="history-report-md").click()
    markdown = (await page.user.download.next(timeout=10)).text
    assert markdown.startswith("# LlamaBurn report: qwen3:4b\n")


async def test_a_comparison_downloads_its_report(page: Page) -> None:
    rows = await stored(page)
    select(page, rows)
    page.user.find(marker="compare-button").click()
    await page.user.should_see("Comparison: qwen3:4b vs llama3.2:1b")  # history lists the newest first
    page.user.find(marker="comparison-report-md").click()
    markdown = (await page.user.download.next(timeout=10)).text
    assert markdown.startswith("# LlamaBurn report: qwen3:4b vs llama3.2:1b\n")
    winner = f"llama3.2:1b @ host-a ({FAST[:8]})"
    assert f"| Avg TPS (tok/s) | higher | 55.00 tok/s | **110.00 tok/s** | +100.0% | {winner} |" in markdown
    page.user.find(marker="comparison-report").click()
    html = (await page.user.download.next(timeout=10)).text
    assert 'id="comparison-table"' in html and "globalThis.echarts = " in html


async def test_a_finished_run_downloads_its_report(page: Page) -> None:
    run = await page.run()
    await until(lambda: page.service.store.get_run(run.id).status == "completed")
    page.user.find(marker="results-report-md").click()
    markdown = (await page.user.download.next(timeout=10)).text
    assert f"- Run: `{run.id}`" in markdown and "- Status: completed" in markdown
    page.user.find(marker="results-report").click()
    html = (await page.user.download.next(timeout=10)).text
    assert f"<code>{run.id}</code>" in html and 'id="chart-run-0"' in html
