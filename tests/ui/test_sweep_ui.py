"""The Sweep panel: the form's benchmark over concurrency, drawn as the service's curves, one line per model;
a past sweep picked from history, resumed and drawn again."""

from __future__ import annotations

from llamaburn.service.sweeps import LiveSweep
from llamaburn.testing import DEFAULT_MODEL, FakeServer
from tests.harness.moments import until
from tests.harness.page import Page


async def sweep_one_two(page: Page) -> LiveSweep:
    """Sweep the form's benchmark over concurrency 1, 2 from the page, as a user does; the sweep once ended."""
    page.fill(iterations=1, warmup=0)
    with page.user:
        page.element("sweep-concurrency").value = "1,2"
    page.user.find(marker="sweep-button").click()
    sweeps = page.service.sweeps.sweeps
    await until(lambda: len(sweeps) == 1 and next(iter(sweeps.values())).done.is_set())
    return next(iter(sweeps.values()))


async def test_a_sweep_from_the_page_draws_throughput_and_ttft_against_concurrency(page: Page) -> None:
    live = await sweep_one_two(page)
    await until(lambda: page.text("sweep-status").endswith("2 of 2 points (done)"))
    for metric in ("aggregate_tps", "stream_tps_mean", "ttft_ms_p50", "ttft_ms_p95"):
        options = page.element(f"sweep-chart-{metric}").options
        assert [s["name"] for s in options["series"]] == [DEFAULT_MODEL]
        assert [x for x, _ in options["series"][0]["data"]] == [1, 2] and options["xAxis"]["name"] == "concurrency"
    throughput = page.element("sweep-chart-aggregate_tps").options["series"][0]["data"]
    assert throughput == [[c["coordinates"]["concurrency"], c["aggregate"]["aggregate_tps"]]
                          for c in (cell.as_json() for cell in live.sweep.cells_done)]
    assert len(page.service.store.sweep_runs(live.id)) == 3


async def test_a_bad_concurrency_is_refused_in_one_message(page: Page) -> None:
    with page.user:
        page.element("sweep-concurrency").value = "1,0"
    page.user.find(marker="sweep-button").click()
    await page.user.should_see("concurrency: each from 1 to 64")
    assert page.service.sweeps.sweeps == {}


async def test_a_depth_sweep_draws_prefill_and_decode_against_depth(page: Page) -> None:
    page.fill(iterations=1, warmup=0)
    with page.user:
        page.element("sweep-concurrency").value = "1"
        page.element("sweep-depth").value = "8,32"
    page.user.find(marker="sweep-button").click()
    await until(lambda: page.text("sweep-status").endswith("2 of 2 points (done)"))
    for metric in ("prompt_tps_mean", "stream_tps_mean", "ttft_ms_p50"):
        options = page.element(f"sweep-chart-depth-{metric}").options
        assert [x for x, _ in options["series"][0]["data"]] == [8, 32] and options["xAxis"]["name"] == "depth"


async def test_a_past_sweep_picked_from_history_resumes_and_draws_again(page: Page, fake: FakeServer) -> None:
    first = await sweep_one_two(page)
    sweeps = page.service.sweeps.sweeps
    store = page.service.store
    await until(lambda: {run.status for run in store.sweep_runs(first.id)} == {"completed"})
    await until(lambda: not page.element("sweep-resume-id").value)  # a completed sweep leaves the field empty

    page.user.find(marker="sweep-past").trigger("popupShow")  # opening the list reads history again
    options = page.element("sweep-past").options
    assert list(options) == [first.id] and options[first.id].endswith(f"{DEFAULT_MODEL} · 2 points · completed")
    with page.user:
        page.element("sweep-past").value = first.id
    assert page.element("sweep-resume-id").value == first.id
    chats = len([r for r in fake.requests if r.path == "/api/chat"])
    page.user.find(marker="sweep-resume").click()
    await until(lambda: sweeps[first.id] is not first and sweeps[first.id].done.is_set())
    await until(lambda: page.text("sweep-status").endswith("2 of 2 points (done)"))
    throughput = page.element("sweep-chart-aggregate_tps").options["series"][0]["data"]
    assert [x for x, _ in throughput] == [1, 2]
    assert len([r for r in fake.requests if r.path == "/api/chat"]) == chats  # drawn from history, not measured
