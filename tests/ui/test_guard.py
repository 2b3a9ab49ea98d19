"""The regression guard on the page: the comparison's intervals, "within noise" instead of a winner, a
too-short run's warning, and "Set as Baseline" on a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats

from llamaburn.storage.baselines import Baselines
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store
from tests.harness.moments import until
from tests.harness.page import Page

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEADY = [101.2, 99.8, 100.5, 98.9, 100.1, 99.6, 100.9, 99.3]
NOISY = [60.0, 140.0, 75.0, 120.0, 55.0, 135.0, 70.0, 110.0]


def add(store: Store, run_id: str, tps: list[float], minutes: int) -> None:
    summary = {"tps": {"mean": sum(tps) / len(tps), "min": min(tps), "max": max(tps)}}
    store.create_run(RunRecord(id=run_id, created_at=T0 + timedelta(minutes=minutes), modality="text",
                               backend="ollama", model=run_id, host="box", status="completed", summary=summary))
    for index, value in enumerate(tps, 1):
        store.add_iteration(IterationRecord(run_id=run_id, index=index, metrics={"tps": value}))


async def test_a_lead_within_noise_names_no_winner_and_a_run_becomes_the_baseline(page: Page) -> None:
    add(page.service.store, "steady-run", STEADY, 0)
    add(page.service.store, "noisy-run", NOISY, 1)
    with page.user:
        page.main.history.refresh()
    await until(lambda: len(page.element("history-table").rows) == 2)
    rows = page.element("history-table").rows
    table = page.user.find(marker="history-table")
    table.trigger("selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]})
    assert not page.element("baseline-button").enabled  # a baseline is one run
    page.user.find(marker="compare-button").click()
    await page.user.should_see(marker="winner-cell-avg_tps")
    assert page.text("winner-cell-avg_tps") == "within noise"
    assert page.text("diff-avg_tps-1").endswith("(within noise)")
    assert page.text("interval-avg_tps-0").startswith("95% CI ")
    assert "cannot tell a 5% change in TPS: run at least" in page.text("run-warning-0")  # noisy-run, newest first
    bars = page.element("comparison-chart-0").options
    errors = [series for series in bars["series"] if series["type"] == "custom"]
    assert [series["data"][0][0] for series in errors] == [0, 0]  # each run's interval over its Avg TPS bar
    assert errors[1]["data"][0][1:] == [pytest.approx(v) for v in stats.t.interval(
        0.95, 7, loc=stats.tmean(STEADY), scale=stats.sem(STEADY))]
    assert bars["legend"]["data"] == [series["name"] for series in bars["series"] if series["type"] == "bar"]

    table.trigger("selection", {"added": False, "rows": rows[1:], "keys": [rows[1]["id"]]})
    assert page.element("baseline-button").enabled
    page.user.find(marker="baseline-button").click()
    await page.user.should_see("Baseline of noisy-run on ollama at box")
    [baseline] = Baselines(page.service.store).all()
    assert baseline.run_id == rows[0]["id"] == "noisy-run"


async def test_the_trend_marks_a_change_point_and_what_changed(page: Page) -> None:
    store = page.service.store
    history = [(STEADY, "0.12.3"), (STEADY, "0.12.3"), ([x * 0.8 for x in STEADY], "0.12.5")]
    for index, (tps, version) in enumerate(history):
        run_id = f"trend-run-{index}"
        summary = {"tps": {"mean": sum(tps) / len(tps)}}
        store.create_run(RunRecord(id=run_id, created_at=T0 + timedelta(minutes=index), modality="text",
                                   backend="ollama", model="m", host="box", status="completed", summary=summary,
                                   system={"backend_version": version, "hostname": "box"}))
        for number, value in enumerate(tps, 1):
            store.add_iteration(IterationRecord(run_id=run_id, index=number, metrics={"tps": value}))
    with page.user:
        page.main.comparison.show(["trend-run-0", "trend-run-2"])
    await page.user.should_see(marker="trend-change-2")
    change = page.text("trend-change-2")
    assert "-20.0%" in change and "backend version 0.12.3 -> 0.12.5" in change
    [series] = page.element("trend-chart").options["series"]
    assert [pin["coord"][0] for pin in series["markPoint"]["data"]] == [2]
