"""A finished run's results: a card per headline metric, a chart of each iteration's first two metrics, and
the run's report.

Everything shown comes from the run's modality's declared metric set, so a plugin's run shows its own metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nicegui import ui

from llamaburn.engine.format import number
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE
from llamaburn.service.charts import iteration_chart
from llamaburn.service.runs import RunService
from llamaburn.ui.report import ReportButtons


class ResultsPanel:
    def __init__(self, service: RunService) -> None:
        self.run_id: str | None = None
        with ui.card().classes("w-full") as self.card:
            with ui.row().classes("w-full items-center"):
                ui.label("Results").classes("text-lg font-medium")
                ui.space()
                ReportButtons(service, lambda: [self.run_id] if self.run_id else [], "results")
            self.cards = ui.row().classes("w-full gap-4").mark("result-cards")
            self.chart = ui.echart(iteration_chart((), [])).classes("w-full h-64").mark("results-chart")
        self.card.set_visibility(False)

    def show(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        summary: dict[str, dict[str, float]],
        iterations: list[dict[str, Any]],
    ) -> None:
        """Show a run's mean of each headline metric, and its iterations; ``metrics`` is its modality's set."""
        self.run_id = run_id
        self.cards.clear()
        with self.cards:
            for metric in metrics[:HEADLINE]:
                with ui.card().classes("min-w-[10rem]").props("flat bordered"):
                    ui.label(f"Avg {metric.label}").classes("text-sm text-gray-500")
                    mean = (summary.get(metric.name) or {}).get("mean")
                    ui.label(number(mean, metric.unit)).classes("text-2xl font-bold").mark(f"result-{metric.name}")
        self.chart.options.clear()
        self.chart.options.update(iteration_chart(metrics, iterations))
        self.chart.update()
        self.card.set_visibility(True)
