"""The Sweep panel: the form's benchmark over models, context depth and concurrency, its curves as they come.

It builds a ``SweepRequest`` from the page's own ``RunRequest`` and hands it to the service's sweeps; the
curves are the service's (``LiveSweep.curves()``), so this module only renders them and polls for more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from llamaburn.errors import LlamaBurnError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweeps import LiveSweep

POLL_S = 0.5


def line_chart(chart: dict[str, Any]) -> dict[str, Any]:
    """ECharts options for one curve of ``service/curves.py``: a line per series, x a value axis."""
    return {
        "title": {"text": chart["title"], "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [series["name"] for series in chart["series"]]},
        "xAxis": {"type": "value", "name": chart["x"], "minInterval": 1},
        "yAxis": {"type": "value", "scale": True},
        "series": [{"name": s["name"], "type": "line", "data": s["data"], "symbolSize": 8} for s in chart["series"]],
    }


def _numbers(text: str | None) -> list[int]:
    return [int(item) for item in (text or "").split(",") if item.strip()]


class SweepPanel:
    """Models, context depth and concurrency as comma lists, a Sweep button, and one line chart per curve."""

    def __init__(self, service: RunService, request: Callable[[], RunRequest]) -> None:
        self.service = service
        self.request = request
        self.live: LiveSweep | None = None
        self._drawn = -1
        with ui.card().classes("w-full").mark("sweep-panel"):
            ui.label("Sweep").classes("text-lg font-medium")
            with ui.row().classes("items-end gap-4"):
                self.models = ui.input("Models (comma-separated; empty: the header's)").mark("sweep-models")
                self.depth = ui.input("Context depth (tokens; empty: none)").mark("sweep-depth")
                self.concurrency = ui.input("Concurrency", value="1,2,4").mark("sweep-concurrency")
                ui.button("Sweep", icon="grid_on", on_click=self.start).mark("sweep-button")
            self.status = ui.label("").mark("sweep-status")
            self.charts = ui.row().classes("w-full").mark("sweep-charts")
        ui.timer(POLL_S, self._draw)

    def start(self) -> None:
        try:
            request = SweepRequest(
                base=self.request(),
                models=[m.strip() for m in (self.models.value or "").split(",") if m.strip()],
                concurrency=_numbers(self.concurrency.value),
                depth=_numbers(self.depth.value),
            )
            self.live = self.service.sweeps.start(request)
        except ValueError:
            ui.notify("Concurrency and depth: whole numbers separated by commas", type="negative")
            return
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self._drawn = -1
        self.status.text = f"sweep {self.live.id[:8]}: 0 of {len(self.live.sweep.points)} points"

    @staticmethod
    def _marker(chart: dict[str, Any]) -> str:
        axis = "" if chart["x"] == "concurrency" else f"{chart['x']}-"
        return f"sweep-chart-{axis}{chart['metric']}"

    def _draw(self) -> None:
        """Redraw once per new event: the curves of every point finished so far."""
        live = self.live
        if live is None or len(live.events) == self._drawn:
            return
        self._drawn = len(live.events)
        done = len(live.sweep.cells_done)
        ended = " (done)" if live.done.is_set() else ""
        self.status.text = f"sweep {live.id[:8]}: {done} of {len(live.sweep.points)} points{ended}"
        self.charts.clear()
        with self.charts:
            for chart in live.curves():
                ui.echart(line_chart(chart)).classes("w-[32rem] h-72").mark(self._marker(chart))
