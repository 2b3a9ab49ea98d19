"""A run from the page, through NiceGUI's simulated ``user`` against the fake Ollama: live text, results
and history; refused input; cancel; a failure mid-stream; a run that outlives its tab or came over the API."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User

from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.page import marked
from tests.harness.moments import until
from tests.harness.page import Page


async def test_run_streams_live_text_and_shows_results_and_history(page: Page) -> None:
    await page.run(iterations=3, warmup=1)
    assert page.text("live-progress") == "Complete"
    assert page.text("live-text") == "".join(f"t{i} " for i in range(20))
    log_lines = page.log_lines()
    assert "warmup 1/1" in log_lines and "iteration 3/3 started" in log_lines
    assert any(line.startswith("iteration 2 complete: TPS ") for line in log_lines)
    assert [row["iteration"] for row in page.element("live-iterations").rows] == [1, 2, 3]
    assert page.text("result-tps").endswith("tok/s") and page.text("result-ttft_ms").endswith("ms")
    chart = page.element("results-chart").options
    assert len(chart["series"][0]["data"]) == 3 and all(v > 0 for v in chart["series"][0]["data"])
    await until(lambda: [r["status"] for r in page.element("history-table").rows] == ["completed"])
    row = page.element("history-table").rows[0]
    assert row["model"] == DEFAULT_MODEL and row["date"].startswith("Today")
    assert row["tps"] > 0 and row["ttft_ms"] > 0  # the text modality's first two metrics, the spec's columns
    labels = [column["label"] for column in page.element("history-table").columns]
    assert labels[:4] == ["Model", "TPS (tok/s)", "TTFT (ms)", "Date"]


async def test_invalid_config_is_refused_with_a_clear_message(page: Page) -> None:
    page.fill(iterations=0)
    page.user.find(marker="run-button").click()
    await page.user.should_see("iterations: Input should be greater than or equal to 1 (got 0)")
    page.fill(iterations=1, prompts="   ")
    assert page.service.store.count_runs() == 0


async def test_cancel_mid_run_keeps_completed_iterations(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=200, tokens_per_s=100)
    page.fill(iterations=5, warmup=0)
    page.user.find(marker="run-button").click()
    await until(lambda: len(page.element("live-iterations").rows) == 1)
    await until(lambda: page.text("live-progress") == "Iteration 2/5")
    page.user.find(marker="cancel-button").click()
    await until(lambda: page.text("live-progress") == "Cancelled", timeout_s=2)
    await until(lambda: [r["status"] for r in page.element("history-table").rows] == ["cancelled"])
    [stored] = page.service.store.list_runs()
    assert len(page.service.store.iterations(stored.id)) == 1
    assert page.element("run-button").enabled


async def test_failure_mid_stream_is_notified_logged_and_kept_in_history(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=30, drop_after=5)
    await page.run(iterations=2)
    assert page.text("live-progress") == "Failed"
    await page.user.should_see("closed the connection mid-stream")
    log_lines = page.log_lines()
    assert any(line.startswith("error: ") and "mid-stream" in line for line in log_lines)
    await until(lambda: [r["status"] for r in page.element("history-table").rows] == ["failed"])
    assert page.element("run-button").enabled  # the app is ready for the next run


async def test_model_output_is_rendered_as_text_never_as_html(page: Page, fake: FakeServer) -> None:
    fake.script = Script(tokens=["<script>alert(1)</script>", "<b>bold</b>"])
    await page.run(iterations=1)
    assert page.text("live-text") == "<script>alert(1)</script><b>bold</b>"
    await page.user.should_not_see(ui.html)  # text lands in a label, which the browser escapes


async def test_a_run_started_over_the_api_shows_in_an_idle_page(page: Page, fake: FakeServer) -> None:
    service: RunService = page.service
    checked = RunRequest(inputs={"iterations": 2, "warmup": 0}, backend="ollama", url=fake.url, model=DEFAULT_MODEL)
    run = await service.start(checked, announce=True)  # as POST /api/benchmark does
    await until(lambda: page.text("live-progress") == "Complete")
    assert page.text("live-text") == "".join(f"t{i} " for i in range(20))
    assert any(f"run {run.id[:8]} started over the API" in line.text
               for line in page.element("event-log").descendants())
    await until(lambda: [r["status"] for r in page.element("history-table").rows] == ["completed"])


async def test_a_run_outlives_its_tab_and_a_second_tab_sees_shared_history(
    page: Page, create_user: Callable[[], User], fake: FakeServer
) -> None:
    fake.script = Script(tokens=30, tokens_per_s=150)
    page.fill(iterations=2, warmup=0)
    page.user.find(marker="run-button").click()
    await until(lambda: page.text("live-progress").startswith("Iteration"))
    other = create_user()
    await other.open("/")
    assert marked(other, "live-progress").text == "Idle"  # another tab does not follow a run it did not start
    await page.user.open("/")  # the first tab navigates away from its run
    service: RunService = page.service
    await until(lambda: [r.status for r in service.store.list_runs()] == ["completed"])
    await until(lambda: [r["status"] for r in marked(other, "history-table").rows] == ["completed"])
