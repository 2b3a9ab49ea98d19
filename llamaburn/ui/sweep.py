"""The Sweep panel: the form's benchmark over models, context depth and concurrency, with goodput's SLOs, its
curves (the knee marked), heatmap and best cells as they come, a Cancel button, and a Resume button that
runs only the cells a cancelled or killed sweep did not finish (this one, or any other by its id, picked
from the sweeps history has); resuming a completed sweep runs nothing and shows its results again.

It builds a ``SweepRequest`` from the page's own ``RunRequest`` and hands it to the service's sweeps; the
results are the service's (``LiveSweep.results()``) and the charts ``service/charts.py``'s, so this module
only renders them and polls for more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from llamaburn.errors import LlamaBurnError
from llamaburn.service.charts import heatmap_chart, sweep_chart
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweep_history import summaries
from llamaburn.service.sweeps import LiveSweep
from llamaburn.ui.theme import Chart

POLL_S = 0.5
SLOS = (("ttft_ms", "SLO: TTFT ≤ ms"), ("itl_ms_p95", "SLO: ITL p95 ≤ ms"))
"""The per-request metrics goodput is counted against, as the issue names them: each an optional limit."""


def _numbers(text: str | None) -> list[int]:
    return [int(item) for item in (text or "").split(",") if item.strip()]


class SweepPanel:
    """Models, context depth and concurrency as comma lists, the SLOs, Sweep, Cancel and Resume buttons, then
    the warnings, best cells, one line chart per curve and one heatmap per metric."""

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
                self.slos = {name: ui.number(label, min=0).mark(f"sweep-slo-{name}") for name, label in SLOS}
                ui.button("Sweep", icon="grid_on", on_click=self.start).mark("sweep-button")
                self.cancel_button = ui.button("Cancel sweep", icon="stop", on_click=self.cancel).mark(
                    "sweep-cancel")
                self.cancel_button.disable()
                self.past = ui.select({}, label="Past sweeps", on_change=self._pick).classes("w-96").mark(
                    "sweep-past")
                self.past.on("popup-show", self._list_past)  # read again as it opens: history moves on
                self.resume_id = ui.input("Sweep id to resume").mark("sweep-resume-id")
                ui.button("Resume sweep", icon="play_arrow", on_click=self.resume).mark("sweep-resume")
            self.status = ui.label("").mark("sweep-status")
            self.warnings = ui.column().classes("gap-0 text-amber-700").mark("sweep-warnings")
            self.best = ui.column().classes("gap-0").mark("sweep-best")
            self.charts = ui.row().classes("w-full").mark("sweep-charts")
        ui.timer(POLL_S, self._draw)
        self._list_past()

    def _list_past(self) -> None:
        """The sweeps in history, newest first, each named by its start, models, size and status."""
        try:
            found = summaries(self.service.store, self.service.registry)
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.past.set_options({
            s.sweep_id: f"{s.started:%Y-%m-%d %H:%M} · {', '.join(s.models)} · {s.points or '?'} points · {s.status}"
            for s in found
        })

    def _pick(self) -> None:
        if self.past.value:
            self.resume_id.value = self.past.value

    def start(self) -> None:
        slo = {name: float(field.value) for name, field in self.slos.items() if field.value is not None}
        try:
            request = SweepRequest(
                base=self.request(),
                models=[m.strip() for m in (self.models.value or "").split(",") if m.strip()],
                concurrency=_numbers(self.concurrency.value),
                depth=_numbers(self.depth.value),
                slo=slo,
            )
            self.live = self.service.sweeps.start(request)
        except ValueError:
            ui.notify("Concurrency and depth: whole numbers separated by commas", type="negative")
            return
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self._follow()

    async def resume(self) -> None:
        """Resume the sweep named in the field (the one this panel ran, once it has ended)."""
        sweep_id = (self.resume_id.value or "").strip()
        if not sweep_id:
            ui.notify("Resume: give the id of a sweep (the CLI and the API print it)", type="negative")
            return
        try:
            self.live = await self.service.sweeps.resume(sweep_id)
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self._follow()

    def _follow(self) -> None:
        assert self.live is not None
        self._drawn = -1
        self.cancel_button.enable()
        sweep = self.live.sweep
        self.status.text = f"sweep {self.live.id[:8]}: {len(sweep.cells_done)} of {len(sweep.points)} points"

    def cancel(self) -> None:
        if self.live is not None:
            self.live.sweep.cancel()

    @staticmethod
    def _marker(chart: dict[str, Any], kind: str = "chart") -> str:
        axis = "" if chart["x"] == "concurrency" else f"{chart['x']}-"
        return f"sweep-{kind}-{axis}{chart['metric']}"

    def _draw(self) -> None:
        """Redraw once per new event: the results of every point finished so far."""
        live = self.live
        if live is None or len(live.events) == self._drawn:
            return
        self._drawn = len(live.events)
        done = len(live.sweep.cells_done)
        end = next((event for event in live.events if event["type"] == "sweep_end"), None)
        errors = [str(event["message"]) for event in live.events if event["type"] == "error"]
        ended = f" ({'done' if end['status'] == 'completed' else end['status']})" if end else ""
        self.status.text = f"sweep {live.id[:8]}: {done} of {len(live.sweep.points)} points{ended}"
        if end:
            self.cancel_button.disable()
            self.resume_id.value = live.id if end["status"] != "completed" else ""
        found = live.results()
        self.warnings.clear()
        with self.warnings:
            for line in [*errors, *(f"point {c.index + 1}: {w}" for c in live.sweep.cells_done for w in c.warnings)]:
                ui.label(line)
        self.best.clear()
        with self.best:
            for best in found["best"]:
                ui.label(f"Best {best['label']}: {best['name']} ({best['value']:.1f})").mark(
                    f"sweep-best-{best['metric']}")
        self.charts.clear()
        with self.charts:
            for chart in found["curves"]:
                Chart(sweep_chart(chart, found["knees"])).classes("w-[32rem] h-72").mark(self._marker(chart))
            for heatmap in found["heatmaps"]:
                Chart(heatmap_chart(heatmap)).classes("w-[32rem] h-80").mark(self._marker(heatmap, "heatmap"))
