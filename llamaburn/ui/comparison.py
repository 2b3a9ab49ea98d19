"""The comparison panel: the engine's comparison table, grouped bar charts, a model's trend, and its report.

Rows, charts and trend metrics all come from the compared runs' declared metric sets, so runs of a plugin's
modality compare by that plugin's metrics.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from llamaburn.engine.format import number, titled, when
from llamaburn.errors import LlamaBurnError
from llamaburn.service.charts import bar_chart, chart_groups
from llamaburn.service.compare import Comparison, compare, metric_set, samples
from llamaburn.service.runs import RunService
from llamaburn.service.trend import ChangePoint, change_points
from llamaburn.ui.report import ReportButtons
from llamaburn.ui.theme import Chart


def run_name(comparison: Comparison, index: int) -> str:
    return comparison.runs[index].label


class ComparisonPanel:
    def __init__(self, service: RunService) -> None:
        self.service = service
        self.run_ids: list[str] = []
        with ui.card().classes("w-full") as self.card:
            with ui.row().classes("w-full items-center"):
                self.title = ui.label("Comparison").classes("text-lg font-medium").mark("comparison-title")
                ui.space()
                ReportButtons(service, lambda: self.run_ids, "comparison")
            self.table = ui.column().classes("w-full").mark("comparison-table")
            self.charts = ui.grid(columns=2).classes("w-full").mark("comparison-charts")
            with ui.row().classes("items-center gap-4"):
                ui.label("Trend").classes("font-medium")
                self.trend_model = ui.select([], label="Trend of model", on_change=self.draw_trend).classes(
                    "min-w-[14rem]"
                )
                self.trend_metric = ui.select({}, label="Metric", on_change=self.draw_trend).classes("min-w-[12rem]")
                self.trend_metric.mark("trend-metric")
            self.trend = Chart({}).classes("w-full h-64").mark("trend-chart")
            self.changes = ui.column().classes("gap-0 text-sm").mark("trend-changes")
        self.card.set_visibility(False)

    def show(self, run_ids: list[str]) -> None:
        try:
            runs = self.service.store.get_runs(run_ids)
            metrics = metric_set(self.service.registry.modalities, runs)
            comparison = compare(runs, metrics, samples(self.service.store, runs))
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="warning")
            return
        self.run_ids = [run.id for run in comparison.runs]
        self.title.set_text("Comparison: " + " vs ".join(run.model for run in comparison.runs))
        self._table(comparison)
        self.charts.clear()
        with self.charts:
            for index, (title, rows) in enumerate(chart_groups(comparison, metrics)):
                chart = Chart(bar_chart(comparison, title, rows)).classes("w-full h-72")
                chart.mark(f"comparison-chart-{index}")
        self.trend_metric.set_options(
            {metric.name: titled(metric) for metric in metrics}, value=metrics[0].name if metrics else None
        )
        models = list(dict.fromkeys(run.model for run in comparison.runs))
        self.trend_model.set_options(models, value=models[0])
        self.card.set_visibility(True)
        self.draw_trend()

    def _table(self, comparison: Comparison) -> None:
        self.table.clear()
        others = range(1, len(comparison.runs))
        columns = 3 + len(comparison.runs) + len(others)
        with self.table, ui.grid(columns=columns).classes("w-full gap-x-6 gap-y-1 items-baseline"):
            ui.label("Metric").classes("font-medium")
            ui.label("Better").classes("font-medium")
            for index in range(len(comparison.runs)):
                ui.label(run_name(comparison, index)).classes("font-medium")
            for index in others:
                ui.label(f"Diff % ({comparison.runs[index].model})").classes("font-medium")
            ui.label("Winner").classes("font-medium")
            for label, field in (("Size", "parameter_size"), ("Quant", "quantization")):
                ui.label(label)
                ui.label("")
                for index, run in enumerate(comparison.runs):
                    ui.label(getattr(run, field) or "-").mark(f"cell-{field}-{index}")
                for _ in [*others, "winner"]:
                    ui.label("")
            for row in comparison.rows:
                ui.label(row.label).mark(f"label-{row.key}")
                with ui.row().classes("items-center gap-1 text-gray-500"):  # why the winner won
                    ui.icon("arrow_upward" if row.direction == "higher" else "arrow_downward")
                    ui.label(row.direction).mark(f"direction-{row.key}")
                for index, value in enumerate(row.values):
                    with ui.column().classes("gap-0"):
                        cell = ui.label(number(value, row.unit, 2)).mark(f"cell-{row.key}-{index}")
                        if index == row.winner:
                            cell.classes("font-bold text-positive").mark(f"cell-{row.key}-{index}", f"winner-{row.key}")
                        interval = row.intervals[index] if row.intervals else None
                        if interval is not None and interval.low is not None and interval.high is not None:
                            span = f"95% CI {number(interval.low, row.unit, 2)} to {number(interval.high, row.unit, 2)}"
                            ui.label(span).classes("text-xs text-gray-500").mark(f"interval-{row.key}-{index}")
                for index in others:
                    diff = row.diff_pct[index]
                    noise = bool(row.significant) and row.significant[index] is False
                    text = "-" if diff is None else f"{diff:+.1f}%" + (" (within noise)" if noise else "")
                    ui.label(text).mark(f"diff-{row.key}-{index}")
                winner = "within noise" if row.within_noise else "-"
                ui.label(run_name(comparison, row.winner) if row.winner is not None else winner).mark(
                    f"winner-cell-{row.key}"
                )
        with self.table:
            for index, run in enumerate(comparison.runs):
                if run.warning:
                    ui.label(f"{run.label}: {run.warning}").classes("text-warning").mark(f"run-warning-{index}")

    def draw_trend(self) -> None:
        model, metric = self.trend_model.value, self.trend_metric.value
        if model is None or metric is None:
            return
        title = self.trend_metric.options[metric]
        store = self.service.store
        runs = store.runs_of_model(model)
        points = [[when(run.created_at), (run.summary.get(metric) or {}).get("mean")] for run in runs]
        changes = change_points(runs, metric, samples(store, runs))
        self.trend.options.clear()
        self.trend.options.update(
            {
                "title": {"text": f"{title} over time: {model}", "textStyle": {"fontSize": 14}},
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "category", "data": [p[0] for p in points]},
                "yAxis": {"type": "value"},
                "series": [
                    {
                        "name": title,
                        "type": "line",
                        "data": [p[1] for p in points],
                        "markPoint": {"symbol": "pin", "data": [_pin(change, points) for change in changes]},
                    }
                ],
            }
        )
        self.trend.update()
        self.changes.clear()
        with self.changes:
            for change in changes:
                ui.label(_change_text(change, points)).mark(f"trend-change-{change.index}")


def _pin(change: ChangePoint, points: list[list[Any]]) -> dict[str, Any]:
    """The chart's marker on a change point: its move in percent, at the run's point."""
    moved = "changed" if change.change_pct is None else f"{change.change_pct:+.0f}%"
    return {"name": moved, "value": moved, "coord": [change.index, points[change.index][1]]}


def _change_text(change: ChangePoint, points: list[list[Any]]) -> str:
    moved = "" if change.change_pct is None else f" {change.change_pct:+.1f}%"
    since = f"; {', '.join(change.changed)}" if change.changed else ""
    return f"Change point {points[change.index][0]}:{moved} (p={change.p_value:.3g}){since}"
