"""A plugin's modality on the page with no UI edit: its own tab and form, Run and Cancel acting on the
selected tab, its declared metrics in results, live table, history and comparison, and each field type of
a new plugin's inputs rendered as its input."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.testing import FakeServer, Script
from tests.harness.moments import until
from tests.harness.page import Page
from tests.ui.app import DialPlugin, open_app


def form_field(user: User, tab: str, name: str) -> Any:
    """The ``name`` input of one tab's form: with two runnable tabs, both forms have ``iterations``."""
    [found] = [
        field
        for field in user.find(marker=f"field-{name}").elements
        if any(isinstance(a, ui.tab_panel) and a.props["name"] == tab for a in field.ancestors())
    ]
    return found


async def run_selected(page: Page) -> Run:
    """Press Run on the selected tab's form as it is; the run, once the page shows it complete."""
    run = await page.press_run()
    assert page.text("live-progress") == "Complete"
    return run


async def test_run_and_cancel_act_on_the_selected_tab(count_page: Page) -> None:
    assert count_page.element("type-tabs").value == "text"
    count_page.select_tab("count")
    with count_page.user:
        count_page.element("field-words").value = 7
    counted = await run_selected(count_page)
    assert (counted.modality.name, counted.inputs.words) == ("count", 7)  # the selected tab's form
    assert count_page.text("live-text") == "1 2 3 4 5 6 7"
    count_page.select_tab("text")
    with count_page.user:
        count_page.element("field-prompts").value = "Name a colour."
    chatted = await run_selected(count_page)
    assert chatted.modality.name == "text" and chatted.inputs.prompts == ["Name a colour."]
    count_page.select_tab("holo")
    assert not count_page.element("run-button").enabled  # a Coming Soon tab has nothing to run
    count_page.select_tab("count")
    assert count_page.element("run-button").enabled and not count_page.element("cancel-button").enabled


async def test_cancel_stops_a_run_started_from_a_second_runnable_tab(count_page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=200, tokens_per_s=100)
    count_page.select_tab("count")
    count_page.select_tab("text")  # back to text after visiting another runnable tab
    with count_page.user:
        form_field(count_page.user, "text", "iterations").value = 3
        form_field(count_page.user, "text", "warmup").value = 0
    count_page.user.find(marker="run-button").click()
    await until(lambda: count_page.text("live-progress") == "Iteration 1/3")
    assert count_page.element("cancel-button").enabled and not count_page.element("run-button").enabled
    count_page.user.find(marker="cancel-button").click()
    await until(lambda: count_page.text("live-progress") == "Cancelled")
    [run] = count_page.service.runs.values()
    assert (run.modality.name, run.status) == ("text", "cancelled")


async def test_a_plugin_modality_shows_its_own_metrics_in_results_live_history_and_comparison(
    count_page: Page,
) -> None:
    count_page.select_tab("count")
    for words in (4, 8):
        with count_page.user:
            count_page.element("field-words").value = words
        await run_selected(count_page)
    # Results: a card per declared metric, with its label and unit; none of text's.
    assert count_page.text("result-words_per_s") == "80.0 w/s"
    assert count_page.text("result-wait_ms") == "12.5 ms" and count_page.text("result-words") == "8.0"
    await count_page.user.should_see("Avg Words/s")
    await count_page.user.should_not_see(marker="result-tps")
    chart = count_page.element("results-chart").options
    assert [s["name"] for s in chart["series"]] == ["Words/s", "Wait"]
    assert chart["series"][0]["data"] == [80.0] * 5
    # Live: the iteration table's columns are the modality's metrics.
    live = count_page.element("live-iterations")
    assert [c["label"] for c in live.columns] == ["#", "Words/s (w/s)", "Wait (ms)", "Words"]  # units in headers
    assert live.rows[0] == {"iteration": 1, "words_per_s": "80.0 w/s", "wait_ms": "12.5 ms", "words": "8"}
    log_lines = count_page.log_lines()
    assert "iteration 5 complete: Words/s 80.0 w/s | Wait 12.5 ms | Words 8" in log_lines
    # History: the headline (first) metric.
    await until(lambda: [r["status"] for r in count_page.element("history-table").rows] == ["completed"] * 2)
    rows = count_page.element("history-table").rows
    assert [(r["words_per_s"], r["wait_ms"]) for r in rows] == [(80.0, 12.5), (40.0, 25.0)]  # Count's own two
    labels = [column["label"] for column in count_page.element("history-table").columns]
    assert labels[1:3] == ["Words/s (w/s)", "Wait (ms)"] and "TPS (tok/s)" not in labels
    # Comparison: its metrics, winners by their directions, its charts and trend.
    count_page.user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    count_page.user.find(marker="compare-button").click()
    await until(lambda: bool(count_page.user.find(marker="label-avg_words_per_s").elements))
    assert count_page.text("label-avg_words_per_s") == "Avg Words/s"
    assert count_page.text("cell-avg_words_per_s-0") == "80.00 w/s"
    assert count_page.text("diff-avg_words_per_s-1") == "-50.0%"
    assert "text-positive" in count_page.element("cell-avg_words_per_s-0").classes  # higher is better
    assert "text-positive" in count_page.element("cell-avg_wait_ms-0").classes  # lower is better: 12.5 < 25
    assert "text-positive" in count_page.element("cell-avg_words-0").classes
    await count_page.user.should_not_see(marker="cell-avg_tps-0")
    titles = [count_page.element(f"comparison-chart-{i}").options["title"]["text"] for i in range(3)]
    assert titles == ["Words/s (w/s)", "Wait (ms)", "Words"]
    assert count_page.element("trend-metric").options == {
        "words_per_s": "Words/s (w/s)", "wait_ms": "Wait (ms)", "words": "Words"}
    trend = count_page.element("trend-chart").options
    assert trend["series"][0]["name"] == "Words/s (w/s)" and trend["series"][0]["data"] == [40.0, 80.0]


async def test_a_new_plugin_field_shows_in_the_form_with_no_ui_edit(
    user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dial_page = await open_app(user, fake, monkeypatch, load_registry(extra=[("dial", DialPlugin())]))
    dial_page.select_tab("dial")
    steps = dial_page.element("field-steps")
    assert isinstance(steps, ui.number) and (steps.props["min"], steps.props["max"]) == (1, 9)
    mode = dial_page.element("field-mode")
    assert isinstance(mode, ui.select) and mode.options == ["a", "b"] and mode.value == "a"
    assert isinstance(dial_page.element("field-strict"), ui.switch)
    assert dial_page.element("field-sizes").value == "1.5\n2.0"
    assert isinstance(dial_page.element("field-note"), ui.textarea)
    await until(lambda: bool(dial_page.user.find(marker="info-quantization").elements))  # the header is done
    await dial_page.service.aclose()
