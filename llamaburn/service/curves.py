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


BEST = (
    ("aggregate_tps", "Aggregate throughput", max),
    ("requests_per_s", "Requests per second", max),
    ("stream_tps_mean", "Per-stream TPS", max),
    ("prompt_tps_mean", "Prefill TPS", max),
    ("ttft_ms_p50", "TTFT p50", min),
    ("ttft_ms_p95", "TTFT p95", min),
    ("goodput_pct", "Goodput", max),
)
"""Each metric a best cell is named for, and whether its best is the highest or the lowest."""
HEATMAPS = (("aggregate_tps", "Aggregate throughput (tok/s)"), ("ttft_ms_p95", "TTFT p95 (ms)"),
            ("goodput_pct", "Goodput (%)"))


def cell_name(coordinates: dict[str, Any]) -> str:
    """A cell named by its coordinates: ``"llama3 · depth=256 · concurrency=4"``."""
    return line_name(coordinates, x="")


def best_cells(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """For each metric of ``BEST`` that a completed cell has, the cell with its best value (the first in grid
    order on a tie): ``metric``, ``label``, ``value``, the cell's ``index``, ``coordinates`` and ``name``."""
    found = []
    for metric, label, pick in BEST:
        measured = [cell for cell in cells if cell.status == "completed" and cell.aggregate.get(metric) is not None]
        if measured:
            best = pick(measured, key=lambda cell: cell.aggregate[metric])
            found.append({"metric": metric, "label": label, "value": best.aggregate[metric], "index": best.index,
                          "coordinates": best.coordinates, "name": cell_name(best.coordinates)})
    return found


def heatmaps(cells: Sequence[Cell], x: str = "concurrency") -> list[dict[str, Any]]:
    """Each metric of ``HEATMAPS`` over two axes: ``x`` across, and down, every combination of the other axes
    (a line of the curves: with two axes, the other one). ``values`` are ``[column, row, value]`` indices into
    ``columns`` and ``rows``; a failed cell is left blank. None when the sweep has one row or one column."""
    done = [cell for cell in cells if cell.status == "completed" and x in cell.coordinates]
    columns = sorted({cell.coordinates[x] for cell in done})
    rows = list(dict.fromkeys(line_name(cell.coordinates, x) for cell in done))
    if len(columns) < 2 or len(rows) < 2:
        return []
    maps = []
    for metric, title in HEATMAPS:
        values = [[columns.index(cell.coordinates[x]), rows.index(line_name(cell.coordinates, x)), value]
                  for cell in done if (value := cell.aggregate.get(metric)) is not None]
        if values:
            maps.append({"metric": metric, "title": title, "x": x, "columns": columns, "rows": rows,
                         "values": values})
    return maps


def results(cells: Sequence[Cell], knees: dict[str, int | None]) -> dict[str, Any]:
    """All a face shows of a sweep: its curves, its heatmaps (over concurrency, else over depth), its best
    cells and its knees, as one JSON document."""
    maps = heatmaps(cells) or heatmaps(cells, "depth")
    return {"curves": curves(cells), "heatmaps": maps, "best": best_cells(cells), "knees": knees}
