"""Issue 17's done-when on the page: 2 models x concurrency 1,2,4 x depth 256,1024 from the Sweep panel,
every cell in history, the curves with the knee marked, the heatmap, the best cells, and Cancel."""

from __future__ import annotations

from llamaburn.testing import DEFAULT_MODEL
from tests.harness.moments import until
from tests.harness.page import Page
from tests.ui.app import OTHER_MODEL

LINES = [f"{model} · depth={depth}" for model in (DEFAULT_MODEL, OTHER_MODEL) for depth in (256, 1024)]


async def test_the_done_when_sweep_from_the_page(page: Page) -> None:
    page.fill(iterations=1, warmup=0)
    with page.user:
        page.element("sweep-models").value = f"{DEFAULT_MODEL},{OTHER_MODEL}"
        page.element("sweep-concurrency").value = "1,2,4"
        page.element("sweep-depth").value = "256,1024"
        page.element("sweep-slo-ttft_ms").value = 10_000
    page.user.find(marker="sweep-button").click()
    await until(lambda: page.text("sweep-status").endswith("12 of 12 points (done)"), timeout_s=60)
    live = next(iter(page.service.sweeps.sweeps.values()))
    assert live.sweep.request.slo == {"ttft_ms": 10_000.0}
    runs = page.service.store.sweep_runs(live.id)
    assert len(runs) == 2 * 2 * (1 + 2 + 4) and {r.status for r in runs} == {"completed"}
    assert sorted({r.config["sweep"]["cell"] for r in runs}) == list(range(12))
    throughput = page.element("sweep-chart-aggregate_tps").options
    assert [s["name"] for s in throughput["series"]] == LINES
    knees = live.sweep.knees()
    for series in throughput["series"]:
        marked = series.get("markLine", {}).get("data")
        assert marked == ([{"xAxis": knees[series["name"]]}] if knees[series["name"]] else None)
    for metric in ("prompt_tps_mean", "stream_tps_mean"):
        options = page.element(f"sweep-chart-depth-{metric}").options
        assert all([x for x, _ in s["data"]] == [256, 1024] for s in options["series"])
    heatmap = page.element("sweep-heatmap-aggregate_tps").options
    assert heatmap["yAxis"]["data"] == LINES and len(heatmap["series"][0]["data"]) == 12
    best = live.results()["best"]
    tps = next(entry for entry in best if entry["metric"] == "aggregate_tps")
    assert page.text("sweep-best-aggregate_tps") == f"Best Aggregate throughput: {tps['name']} ({tps['value']:.1f})"
    assert page.text("sweep-best-goodput_pct").startswith("Best Goodput: ")


async def test_cancel_stops_the_sweep_and_keeps_its_finished_cells(page: Page) -> None:
    page.fill(iterations=3, warmup=0)
    with page.user:
        page.element("sweep-concurrency").value = "1,2,4,8"
    page.user.find(marker="sweep-button").click()
    await until(lambda: bool(page.service.sweeps.sweeps)
                and len(next(iter(page.service.sweeps.sweeps.values())).sweep.cells_done) >= 1)
    page.user.find(marker="sweep-cancel").click()
    await until(lambda: page.text("sweep-status").endswith("(cancelled)"))
    live = next(iter(page.service.sweeps.sweeps.values()))
    assert 1 <= len([c for c in live.sweep.cells_done if c.status == "completed"]) < 4
    assert len([r for r in page.service.store.sweep_runs(live.id) if "result" in r.config["sweep"]]) == sum(
        c.coordinates["concurrency"] for c in live.sweep.cells_done if c.status == "completed")
