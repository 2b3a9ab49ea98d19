"""ECharts options for a run's iterations and for a comparison, shared by the UI and the report.

They are plain dicts built from the runs' declared metric sets, so the page (``ui.echart``) and a report
file (ECharts inlined) draw the same charts from the same code, and a plugin's modality charts by its own
metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE
from llamaburn.engine.telemetry import TELEMETRY_METRICS
from llamaburn.service.compare import Comparison, ComparisonRow

BAR_GAP_PCT = 20
"""The gap between categories, in percent of a category's width: the error bars' offsets depend on it."""


def iteration_chart(metrics: Sequence[Metric], iterations: list[dict[str, Any]]) -> dict[str, Any]:
    """The first metric as bars on the left axis, the second (if any) as a line on the right one."""
    shown = metrics[:2]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [metric.label for metric in shown], "top": 0},
        "xAxis": {
            "type": "category",
            "name": "iteration",
            "nameLocation": "middle",
            "nameGap": 28,
            "data": [str(i + 1) for i in range(len(iterations))],
        },
        "yAxis": [{"type": "value", "name": metric.unit} for metric in shown] or [{"type": "value"}],
        "series": [
            {
                "name": metric.label,
                "type": "bar" if axis == 0 else "line",
                "yAxisIndex": axis,
                "data": [values.get(metric.name) for values in iterations],
            }
            for axis, metric in enumerate(shown)
        ],
    }


def chart_groups(comparison: Comparison, metrics: Sequence[Metric]) -> list[tuple[str, list[ComparisonRow]]]:
    """The rows of the headline metrics, one chart per unit (bars in one chart share an axis), with a title
    naming what it shows: 'TTFT, ITL p50, Total time (ms)'. The machine's telemetry, appended to a metric
    set, is compared in the table, not charted as a headline of a modality with few metrics."""
    headline = {metric.name for metric in metrics[:HEADLINE] if metric not in TELEMETRY_METRICS}
    groups: dict[str, list[ComparisonRow]] = {}
    for row in comparison.rows:
        if row.metric in headline:
            groups.setdefault(row.unit, []).append(row)
    titled_groups = []
    for unit, rows in groups.items():
        labels = ", ".join(dict.fromkeys(m.label for m in metrics if m.name in {row.metric for row in rows}))
        titled_groups.append((f"{labels} ({unit})" if unit else labels, rows))
    return titled_groups


def bar_chart(comparison: Comparison, title: str, rows: list[ComparisonRow]) -> dict[str, Any]:
    """Grouped bars, one series per run, with each mean's 95 % interval as an error bar over its bar."""
    runs = len(comparison.runs)
    bars: list[dict[str, Any]] = [
        {"name": comparison.runs[i].label, "type": "bar", "barGap": "0%", "barCategoryGap": f"{BAR_GAP_PCT}%",
         "data": [row.values[i] for row in rows]}
        for i in range(runs)
    ]
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24, "data": [bar["name"] for bar in bars]},  # the runs, not their error bars
        "grid": {"top": 64},
        "xAxis": {"type": "category", "data": [row.label for row in rows]},
        "yAxis": {"type": "value"},
        "series": bars + [series for i in range(runs) if (series := _error_bars(rows, i, runs)) is not None],
    }


def _error_bars(rows: list[ComparisonRow], run: int, runs: int) -> dict[str, Any] | None:
    """A custom series drawing run ``run``'s intervals, ``[category, low, high]``, centred on its bars.

    With no gap between a category's bars, bar ``run`` of ``runs`` is centred at
    ``(run + 0.5) / runs`` of the bars' share of the band, counted from its left edge."""
    data = []
    for index, row in enumerate(rows):
        interval = row.intervals[run] if row.intervals else None
        if interval is not None and interval.low is not None and interval.high is not None:
            data.append([index, interval.low, interval.high])
    if not data:
        return None
    share = 1 - BAR_GAP_PCT / 100
    offset = f"(({run} + 0.5) / {runs} - 0.5) * {share}"
    render = (
        "(params, api) => {"
        " const band = api.size([1, 0])[0];"
        f" const dx = band * {offset};"
        " const low = api.coord([api.value(0), api.value(1)]);"
        " const high = api.coord([api.value(0), api.value(2)]);"
        f" const x = low[0] + dx, cap = band * {share} / {runs} / 4;"
        " const style = {stroke: '#333', lineWidth: 1.5};"
        " return {type: 'group', children: ["
        " {type: 'line', shape: {x1: x, y1: low[1], x2: x, y2: high[1]}, style},"
        " {type: 'line', shape: {x1: x - cap, y1: low[1], x2: x + cap, y2: low[1]}, style},"
        " {type: 'line', shape: {x1: x - cap, y1: high[1], x2: x + cap, y2: high[1]}, style}]}; }"
    )
    return {"name": "95% CI", "type": "custom", "data": data, "z": 10, "tooltip": {"show": False},
            "encode": {"x": 0, "y": [1, 2]}, ":renderItem": render}


def sweep_chart(chart: dict[str, Any], knees: dict[str, int | None]) -> dict[str, Any]:
    """ECharts options for one curve of ``service/curves.py``: a line per series, x a value axis. On a
    throughput curve each line's knee (``Sweep.knees``, keyed by line name) is marked by a pin and a dashed
    vertical line at its concurrency."""
    marked = chart["x"] == "concurrency" and chart["metric"] == "aggregate_tps"
    series = []
    for line in chart["series"]:
        entry: dict[str, Any] = {"name": line["name"], "type": "line", "data": line["data"], "symbolSize": 8}
        at = knees.get(line["name"]) if marked else None
        point = next((xy for xy in line["data"] if xy[0] == at), None)
        if point is not None:
            entry["markPoint"] = {"symbol": "pin", "data": [{"name": "knee", "coord": point, "value": "knee"}]}
            entry["markLine"] = {"symbol": "none", "lineStyle": {"type": "dashed"}, "label": {"formatter": "knee"},
                                 "data": [{"xAxis": point[0]}]}
        series.append(entry)
    return {
        "title": {"text": chart["title"], "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [line["name"] for line in chart["series"]]},
        "xAxis": {"type": "value", "name": chart["x"], "minInterval": 1},
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


def heatmap_chart(heatmap: dict[str, Any]) -> dict[str, Any]:
    """ECharts options for one heatmap of ``service/curves.py``: its x axis across, the other axes down, each
    cell's value written on it and coloured on a scale from the lowest to the highest."""
    numbers = [value for _, _, value in heatmap["values"]]
    return {
        "title": {"text": heatmap["title"], "textStyle": {"fontSize": 13}},
        "tooltip": {"position": "top"},
        "grid": {"top": 40, "left": 160, "bottom": 70},
        "xAxis": {"type": "category", "name": heatmap["x"], "data": [str(c) for c in heatmap["columns"]]},
        "yAxis": {"type": "category", "data": heatmap["rows"], "inverse": True},  # rows top-down, in grid order
        "visualMap": {"min": min(numbers), "max": max(numbers), "calculable": True, "orient": "horizontal",
                      "left": "center", "bottom": 0},
        "series": [{"name": heatmap["title"], "type": "heatmap", "data": heatmap["values"],
                    "label": {"show": True, ":formatter": "(p) => p.value[2].toFixed(1)"}}],
    }
