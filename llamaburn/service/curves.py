"""The curves people decide a sweep by, as data any face can draw: one line per combination of the other
axes (model, settings), a point per value of the x axis. The UI only renders these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llamaburn.service.sweeper import Cell, line_name

CHARTS = (
    ("aggregate_tps", "Aggregate throughput (tok/s)"),
    ("stream_tps_mean", "Per-stream TPS (tok/s)"),
    ("ttft_ms_p50", "TTFT p50 (ms)"),
    ("ttft_ms_p95", "TTFT p95 (ms)"),
    ("goodput_pct", "Goodput (%)"),
)
DEPTH_CHARTS = (
    ("prompt_tps_mean", "Prefill TPS (tok/s)"),
    ("stream_tps_mean", "Decode TPS (tok/s)"),
    ("ttft_ms_p50", "TTFT p50 (ms)"),
)


def curves(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """The charts against concurrency, then, when the sweep has a depth axis, prefill and decode TPS and
    TTFT against depth (llama-bench's pp@d and tg@d)."""
    with_depth = any("depth" in cell.coordinates for cell in cells)
    return [*charts_of(cells, "concurrency", CHARTS), *(charts_of(cells, "depth", DEPTH_CHARTS) if with_depth else [])]


def charts_of(cells: Sequence[Cell], x: str, metrics: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One chart per metric (a metric no cell has is left out): its ``series``, each a line's ``name``
    and its ``[x, y]`` points in x order. Cells that failed are left out of the lines."""
    charts = []
    for metric, title in metrics:
        lines: dict[str, list[list[Any]]] = {}
        for cell in cells:
            value = cell.aggregate.get(metric)
            if cell.status == "completed" and value is not None and x in cell.coordinates:
                lines.setdefault(line_name(cell.coordinates, x), []).append([cell.coordinates[x], value])
        if lines:
            series = [{"name": name, "data": sorted(points)} for name, points in lines.items()]
            charts.append({"metric": metric, "title": title, "x": x, "series": series})
    return charts
