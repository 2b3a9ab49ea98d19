"""What a sweep ends in: the best cell per metric named, heatmaps over two axes, the knee marked on its curve."""

from __future__ import annotations

from typing import Any

from llamaburn.service.charts import heatmap_chart, sweep_chart
from llamaburn.service.curves import best_cells, curves, heatmaps, results
from llamaburn.service.sweeper import Cell

A, B = "llama3.2:1b", "qwen2.5:0.5b"
# aggregate throughput per model and concurrency: A stops rising past 2 (100 -> 104), B still rises
TPS = {(A, 1): 50.0, (A, 2): 100.0, (A, 4): 104.0, (B, 1): 40.0, (B, 2): 80.0, (B, 4): 160.0}
TTFT = {(A, 1): 20.0, (A, 2): 25.0, (A, 4): 90.0, (B, 1): 15.0, (B, 2): 30.0, (B, 4): 60.0}


def cell(index: int, model: str, concurrency: int, status: str = "completed") -> Cell:
    aggregate: dict[str, Any] = {"aggregate_tps": TPS[model, concurrency], "ttft_ms_p95": TTFT[model, concurrency],
                                 "ttft_ms_p50": TTFT[model, concurrency] / 2, "goodput_pct": None}
    return Cell(index, 6, {"model": model, "concurrency": concurrency}, [f"r{index}"], status, [], aggregate)


CELLS = [cell(i, model, c) for i, (model, c) in enumerate((m, c) for m in (A, B) for c in (1, 2, 4))]


def test_the_best_cell_of_each_metric_is_named_by_its_coordinates() -> None:
    best = {entry["metric"]: entry for entry in best_cells(CELLS)}
    assert set(best) == {"aggregate_tps", "ttft_ms_p50", "ttft_ms_p95"}  # goodput: no SLO, no value
    assert (best["aggregate_tps"]["index"], best["aggregate_tps"]["value"]) == (5, 160.0)
    assert best["aggregate_tps"]["name"] == f"{B} · concurrency=4"
    assert (best["ttft_ms_p95"]["index"], best["ttft_ms_p95"]["name"]) == (3, f"{B} · concurrency=1")  # lowest


def test_a_failed_cell_is_never_the_best() -> None:
    cells = [*CELLS[:5], cell(5, B, 4, status="failed")]
    assert {e["metric"]: e["index"] for e in best_cells(cells)}["aggregate_tps"] == 2  # A at 4: 104 tok/s


def test_the_heatmap_is_concurrency_across_and_the_other_axis_down() -> None:
    tps = next(h for h in heatmaps(CELLS) if h["metric"] == "aggregate_tps")
    assert tps["columns"] == [1, 2, 4] and tps["rows"] == [A, B]
    assert sorted(tps["values"]) == sorted([[c, r, TPS[m, x]] for r, m in enumerate((A, B))
                                            for c, x in enumerate((1, 2, 4))])
    options = heatmap_chart(tps)
    assert options["series"][0]["type"] == "heatmap" and options["yAxis"]["data"] == [A, B]
    assert (options["visualMap"]["min"], options["visualMap"]["max"]) == (40.0, 160.0)
    assert heatmaps(CELLS[:3]) == []  # one model: one row, nothing to map


def test_the_knee_is_marked_on_its_throughput_line_only() -> None:
    found = results(CELLS, {A: 2, B: None})
    tps = next(chart for chart in found["curves"] if chart["metric"] == "aggregate_tps")
    options = sweep_chart(tps, found["knees"])
    a, b = options["series"]
    assert a["markPoint"]["data"] == [{"name": "knee", "coord": [2, 100.0], "value": "knee"}]
    assert a["markLine"]["data"] == [{"xAxis": 2}]
    assert "markPoint" not in b and "markLine" not in b  # B still rises: no knee
    ttft = next(chart for chart in curves(CELLS) if chart["metric"] == "ttft_ms_p95")
    assert all("markPoint" not in s for s in sweep_chart(ttft, found["knees"])["series"])
