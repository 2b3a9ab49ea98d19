"""History and comparison on the page: history survives a reload, deletes and clears; two models compare
with the engine's table, winners and charts."""

from __future__ import annotations

from llamaburn.engine.registry import load_registry
from llamaburn.service.compare import compare, samples
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.moments import until
from tests.harness.page import Page
from tests.ui.app import OTHER_MODEL


async def test_history_survives_reload_then_delete_and_clear(page: Page) -> None:
    await page.run()
    await page.run()
    await until(lambda: len(page.element("history-table").rows) == 2)
    await page.user.open("/")
    await until(lambda: len(page.element("history-table").rows) == 2)
    table = page.element("history-table")
    first = table.rows[0]
    page.user.find(marker="history-table").trigger("selection", {"added": True, "rows": [first], "keys": [first["id"]]})
    page.user.find(marker="history-delete").click()
    await until(
        lambda: (
            [r["id"] for r in page.element("history-table").rows] != [first["id"]]
            and len(page.element("history-table").rows) == 1
        )
    )
    page.user.find(marker="history-clear").click()
    await page.user.should_see("Delete every run in history? This cannot be undone.")
    page.user.find(marker="confirm-clear").click()
    await until(lambda: page.element("history-table").rows == [])
    assert page.service.store.count_runs() == 0


async def test_compare_two_models_shows_the_engine_table_and_charts(page: Page, fake: FakeServer) -> None:
    await page.run(iterations=5)  # 2 iterations of a loaded machine can leave even 2x within noise
    fake.script = Script(tokens=20, ttft_s=0.05, tokens_per_s=200)
    with page.user:
        page.element("model-select").value = OTHER_MODEL
    await page.run(iterations=5)
    await until(lambda: len(page.element("history-table").rows) == 2)
    rows = page.element("history-table").rows
    assert not page.element("compare-button").enabled
    page.user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    assert page.element("compare-button").enabled
    page.user.find(marker="compare-button").click()
    await page.user.should_see(f"Comparison: {OTHER_MODEL} vs {DEFAULT_MODEL}")
    runs = [page.service.store.get_run(r["id"]) for r in rows]
    expected = compare(runs, load_registry().modality("text").metrics, samples(page.service.store, runs))
    tps = next(row for row in expected.rows if row.key == "avg_tps")
    assert tps.diff_pct[1] is not None
    assert page.text("diff-avg_tps-1") == f"{tps.diff_pct[1]:+.1f}%"
    assert tps.winner == 1  # the first model streamed at 400 tok/s, the second at 200
    await page.user.should_see(marker="winner-avg_tps")
    assert "text-positive" in page.element("cell-avg_tps-1").classes
    ttft = next(row for row in expected.rows if row.key == "avg_ttft_ms")
    assert ttft.winner == 1 and "text-positive" in page.element("cell-avg_ttft_ms-1").classes
    assert page.text("cell-quantization-0") == page.text("cell-quantization-1") == "Q4_K_M"
    assert page.text("cell-parameter_size-0") != "-"
    bars = page.element("comparison-chart-0").options
    assert [s["name"].split(" ")[0] for s in bars["series"] if s["type"] == "bar"] == [OTHER_MODEL, DEFAULT_MODEL]
    trend = page.element("trend-chart").options
    assert len(trend["series"][0]["data"]) == 1
