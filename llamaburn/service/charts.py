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
from llamaburn.service.compare import Comparison, ComparisonRow


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
    naming what it shows: 'TTFT, ITL p50, Total time (ms)'."""
    headline = {metric.name for metric in metrics[:HEADLINE]}
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
    """One grouped bar chart: a group per row, a bar per run, named as every face names the run."""
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"top": 64},
        "xAxis": {"type": "category", "data": [row.label for row in rows]},
        "yAxis": {"type": "value"},
        "series": [
            {"name": run.label, "type": "bar", "data": [row.values[i] for row in rows]}
            for i, run in enumerate(comparison.runs)
        ],
    }
