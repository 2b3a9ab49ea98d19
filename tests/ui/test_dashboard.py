"""The dashboard through NiceGUI's simulated user: the empty state and the last result, the live charts and
telemetry, the machine's cost in the results, history's filters, and the keyboard shortcuts."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from nicegui import ui

from llamaburn.engine.telemetry import SERIES_KEY
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.nvml import FakeDevice, FakeNvml
from tests.harness.moments import until
from tests.harness.page import Page
from tests.ui.app import OTHER_MODEL


def key(page: Page, name: str, ctrl: bool = False) -> None:
    """Press ``name`` as the browser reports it to ``ui.keyboard``."""
    page.user.find(kind=ui.keyboard).trigger("key", {
        "action": "keydown", "repeat": False, "key": name, "code": name, "location": 0,
        "altKey": False, "ctrlKey": ctrl, "metaKey": False, "shiftKey": False,
    })


async def test_a_new_database_says_what_to_do_and_a_reload_shows_the_last_run(page: Page) -> None:
    await page.user.should_see("No runs yet: pick a model on the left and press Run (Ctrl+Enter).")
    assert not page.main.live.body.visible  # no empty text box or chart before a run
    assert page.text("live-progress") == "Idle" and "press Run" in page.text("live-prompt")
    await page.run()
    await page.user.should_not_see(marker="results-empty")
    await page.user.open("/")
    await page.user.should_see(f"Last run: {DEFAULT_MODEL}")
    assert page.text("result-tps").endswith("tok/s")
    await page.user.should_not_see(marker="results-empty")


async def test_the_live_charts_fill_from_the_token_events(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=40, ttft_s=0.05, tokens_per_s=40)  # 1 s an iteration: four 250 ms buckets
    run = await page.run(iterations=2)
    rate = page.element("live-rate-chart").options
    points = rate["series"][0]["data"]
    assert len(points) >= 4 and sum(tps for _, tps in points) * 0.25 == 40  # every token in one bucket
    assert points[-1][0] > 0.9  # the last bucket ends after the iteration's 1 s of tokens
    [marker] = rate["series"][0]["markLine"]["data"]
    assert marker["xAxis"] == round(run.iterations[-1]["ttft_ms"] / 1000, 3)  # the measured TTFT, once complete
    strip = page.element("live-strip-chart").options
    assert strip["series"][0]["data"] == [it["tps"] for it in run.iterations]
    assert strip["xAxis"]["data"] == ["1", "2"]
    assert page.text("live-machine").startswith("CPU ") and "(cores " in page.text("live-machine")
    machine = page.element("live-machine-chart").options
    assert machine["series"][0]["name"] == "CPU %" and len(machine["series"][0]["data"]) >= 4


async def test_results_show_what_the_run_cost_the_machine(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=20, tokens_per_s=40)  # 0.5 s an iteration: samples inside each
    run = await page.run(iterations=2)
    cpu = run.summary["cpu_pct"]
    chip = page.element("result-machine-cpu_pct")
    assert chip.text.startswith(f"CPU {cpu['mean']:,.0f} %") and "peak" in chip.text
    stored = page.service.store.iterations(run.id)
    assert all(SERIES_KEY in it.metrics and it.metrics["ram_used_mib"] > 0 for it in stored)
    second = await page.run(iterations=2)
    with page.user:
        page.main.compare([second.id, run.id])
    await page.user.should_see(marker="label-avg_cpu_pct")  # compared with the modality's own metrics
    assert page.text("label-avg_ram_used_mib") == "Avg RAM used"
    assert page.text("cell-avg_cpu_pct-1") == f"{cpu['mean']:,.2f} %"


async def test_history_filters_by_model_type_and_status(page: Page) -> None:
    await page.run()
    with page.user:
        page.element("model-select").value = OTHER_MODEL
    await page.run()
    await until(lambda: [row["status"] for row in page.element("history-table").rows] == ["completed"] * 2)

    def choose(marker: str, value: Any) -> list[str]:
        with page.user:
            page.element(marker).value = value
        return [row["model"] for row in page.element("history-table").rows]

    assert choose("history-model", OTHER_MODEL) == [OTHER_MODEL]
    assert choose("history-model", "") == [OTHER_MODEL, DEFAULT_MODEL]
    assert choose("history-status", "completed") == [OTHER_MODEL, DEFAULT_MODEL]
    assert set(page.element("history-type").options) == {"", "text"}
    assert choose("history-type", "text") == [OTHER_MODEL, DEFAULT_MODEL]
    page.element("history-search").set_value(OTHER_MODEL)
    assert page.element("history-table").props["filter"] == OTHER_MODEL  # the browser filters rows by it


async def test_ctrl_enter_runs_and_escape_cancels(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=400, tokens_per_s=100)
    page.fill(iterations=3, warmup=0)
    key(page, "Enter")  # Enter alone is typing, not a shortcut
    key(page, "Enter", ctrl=True)
    await until(lambda: len(page.service.runs) == 1)
    run = next(iter(page.service.runs.values()))
    await until(lambda: page.text("live-progress") == "Iteration 1/3")
    key(page, "Escape")
    await until(lambda: page.text("live-progress") == "Cancelled", timeout_s=5)
    assert run.status == "cancelled" and len(page.service.runs) == 1


async def test_a_gpu_shows_live_and_in_the_results_with_energy_per_token(
    page: Page, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(FakeDevice(util_pct=55, power_mw=90_000, temp_c=70)))
    fake.script = Script(tokens=20, tokens_per_s=40)  # 0.5 s an iteration
    run = await page.run(iterations=2)
    line = page.text("live-machine")
    assert "GPU 55 %, 2,048 MiB, 90 W, 70 °C" in line
    assert line.endswith(f"{run.iterations[-1]['j_per_token']:,.2f} J/token")
    machine = page.element("live-machine-chart").options
    assert [series["name"] for series in machine["series"]] == ["CPU %", "GPU %"]
    assert page.text("result-machine-j_per_token").startswith(f"Energy/token {run.summary['j_per_token']['mean']:,.2f}")
    assert page.text("result-machine-gpu_power_w") == "GPU power 90 W (peak 90 W)"
