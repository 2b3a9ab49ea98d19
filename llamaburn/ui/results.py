"""A finished run's results: a card per headline metric, what it cost the machine (each telemetry figure's
mean and peak), a chart of each iteration's first two metrics, and the run's report. With no run yet it says
what to do.

Everything shown comes from the run's modality's declared metric set, so a plugin's run shows its own metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nicegui import ui

from llamaburn.engine.format import number
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE
from llamaburn.engine.telemetry import TELEMETRY_METRICS
from llamaburn.service.charts import iteration_chart
from llamaburn.service.runs import RunService
from llamaburn.ui.report import ReportButtons
from llamaburn.ui.theme import Chart

EMPTY = "No runs yet: pick a model on the left and press Run (Ctrl+Enter)."


class ResultsPanel:
    def __init__(self, service: RunService) -> None:
        self.run_id: str | None = None
        with ui.card().classes("w-full items-center py-10").mark("results-empty") as self.empty:
            ui.icon("local_fire_department", size="3rem").classes("text-orange-600")
            ui.label(EMPTY).classes("text-lg")
        with ui.card().classes("w-full") as self.card:
            with ui.row().classes("w-full items-center"):
                self.title = ui.label("Results").classes("text-lg font-medium").mark("results-title")
                ui.space()
                ReportButtons(service, lambda: [self.run_id] if self.run_id else [], "results")
            self.cards = ui.row().classes("w-full gap-4").mark("result-cards")
            self.machine = ui.row().classes("w-full gap-2").mark("result-machine")
            self.chart = Chart(iteration_chart((), [])).classes("w-full h-64").mark("results-chart")
        self.card.set_visibility(False)

    def show(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        summary: dict[str, dict[str, float]],
        iterations: list[dict[str, Any]],
        title: str = "Results",
    ) -> None:
        """Show a run's mean of each headline metric, and its iterations; ``metrics`` is its modality's set."""
        self.run_id = run_id
        self.title.set_text(title)
        self.cards.clear()
        with self.cards:
            for metric in metrics[:HEADLINE]:
                with ui.card().classes("min-w-[10rem]").props("flat bordered"):
                    ui.label(f"Avg {metric.label}").classes("text-sm text-gray-500")
                    mean = (summary.get(metric.name) or {}).get("mean")
                    ui.label(number(mean, metric.unit)).classes("text-2xl font-bold").mark(f"result-{metric.name}")
        self._machine(summary)
        self.chart.options.clear()
        self.chart.options.update(iteration_chart(metrics, iterations))
        self.chart.update()
        self.empty.set_visibility(False)
        self.card.set_visibility(True)

    def _machine(self, summary: dict[str, dict[str, float]]) -> None:
        """A chip per telemetry figure the run recorded: its mean over the iterations, and its peak."""
        self.machine.clear()
        with self.machine:
            for metric in TELEMETRY_METRICS:
                mean = (summary.get(metric.name) or {}).get("mean")
                if mean is None:
                    continue
                peak = (summary.get(f"{metric.name}_peak") or {}).get("max")
                text = f"{metric.label} {number(mean, metric.unit, 2 if metric.unit == 'J/tok' else 0)}"
                if peak is not None:
                    text += f" (peak {number(peak, metric.unit, 0)})"
                ui.chip(text, icon="memory").props("outline dense").mark(f"result-machine-{metric.name}")
