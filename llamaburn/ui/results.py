"""A finished run's results: summary cards and a chart of each iteration's TPS and TTFT."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from llamaburn.ui.format import number

CARDS = (
    ("Avg TPS", "tps", "tok/s"),
    ("Avg TTFT", "ttft_ms", "ms"),
    ("Avg ITL p50", "itl_ms_p50", "ms"),
    ("Avg total time", "total_ms", "ms"),
)


def iteration_chart(iterations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["TPS", "TTFT"], "top": 0},
        "xAxis": {
            "type": "category",
            "name": "iteration",
            "nameLocation": "middle",
            "nameGap": 28,
            "data": [str(i + 1) for i in range(len(iterations))],
        },
        "yAxis": [{"type": "value", "name": "tok/s"}, {"type": "value", "name": "ms"}],
        "series": [
            {"name": "TPS", "type": "bar", "data": [m.get("tps") for m in iterations]},
            {"name": "TTFT", "type": "line", "yAxisIndex": 1, "data": [m.get("ttft_ms") for m in iterations]},
        ],
    }


class ResultsPanel:
    def __init__(self) -> None:
        with ui.card().classes("w-full") as self.card:
            ui.label("Results").classes("text-lg font-medium")
            with ui.row().classes("w-full gap-4"):
                self.values = {}
                for title, metric, _unit in CARDS:
                    with ui.card().classes("min-w-[10rem]").props("flat bordered"):
                        ui.label(title).classes("text-sm text-gray-500")
                        self.values[metric] = ui.label("-").classes("text-2xl font-bold").mark(f"result-{metric}")
            self.chart = ui.echart(iteration_chart([])).classes("w-full h-64").mark("results-chart")
        self.card.set_visibility(False)

    def show(self, summary: dict[str, dict[str, float]], iterations: list[dict[str, Any]]) -> None:
        for _title, metric, unit in CARDS:
            self.values[metric].set_text(number((summary.get(metric) or {}).get("mean"), unit))
        self.chart.options.update(iteration_chart(iterations))
        self.chart.update()
        self.card.set_visibility(True)
