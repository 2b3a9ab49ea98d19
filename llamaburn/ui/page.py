"""The main page: header, benchmark type tabs, config form, live output, results, history, comparison.

One instance per browser tab. A run belongs to the service, not to the tab: closing the tab leaves it
running and it lands in history; the tab that started it follows it live.
"""

from __future__ import annotations

from nicegui import ui

from llamaburn.engine.modality import Modality
from llamaburn.engine.runner import Run
from llamaburn.errors import LlamaBurnError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.ui.comparison import ComparisonPanel
from llamaburn.ui.form import InputsForm
from llamaburn.ui.header import BackendBar
from llamaburn.ui.history import HistoryPanel
from llamaburn.ui.live import LivePanel
from llamaburn.ui.plugins import plugins_dialog
from llamaburn.ui.results import ResultsPanel
from llamaburn.ui.sweep import SweepPanel


class MainPage:
    def __init__(self, service: RunService) -> None:
        self.service = service
        self.forms: dict[str, InputsForm] = {}
        self._history_dirty = False
        with ui.header(fixed=False).classes("items-center bg-white text-black border-b"):
            ui.label("LlamaBurn").classes("text-xl font-bold text-orange-700")
            ui.space()
            dialog = plugins_dialog(service.registry)
            ui.button("Plugins", icon="extension", on_click=dialog.open).props("flat").mark("plugins-button")
        with ui.column().classes("w-full max-w-6xl mx-auto gap-4 p-4"):
            self.backend_bar = BackendBar(service, report=lambda message: self.live.log.push(message))
            self._type_selector()
            self.live = LivePanel(self._finished)
            self.results = ResultsPanel(service)
            self.sweep = SweepPanel(service, self.request)
            self.history = HistoryPanel(service, lambda run_ids: self.comparison.show(run_ids))
            self.comparison = ComparisonPanel(service)
        self._update_buttons()
        self._announced: Run | None = None
        self._unsaved: list[tuple[Run, str]] = []
        for unsubscribe in (
            service.on_history_change(self._mark_history_dirty),
            service.on_run_announced(self._run_announced),
            service.on_run_unsaved(lambda run, notice: self._unsaved.append((run, notice))),
        ):
            ui.context.client.on_disconnect(unsubscribe)
        ui.timer(0.25, self._tick)
        ui.timer(0, self.backend_bar.choose_default, once=True)

    def _type_selector(self) -> None:
        """The tabs, a form per runnable tab, and one Run/Cancel pair acting on the selected tab."""
        modalities = self.service.registry.modalities
        first = next(iter(modalities), None)  # text: the registry orders the built-ins first, third-party after
        with ui.card().classes("w-full"):
            ui.label("Benchmark Type").classes("text-lg font-medium")
            with ui.tabs() as self.tabs:
                for name, modality in modalities.items():
                    with ui.tab(name, label=modality.label).mark(f"tab-{name}"):
                        if not modality.available:
                            ui.badge("Coming Soon", color="orange").classes("ml-2").mark(f"soon-{name}")
            self.tabs.props("inline-label no-caps align=left").mark("type-tabs")
            with ui.tab_panels(self.tabs, value=first).classes("w-full"):
                for name, modality in modalities.items():
                    with ui.tab_panel(name):
                        self._config(name, modality)
            with ui.row():
                self.run_button = ui.button("Run", icon="play_arrow", on_click=self.start).mark("run-button")
                self.cancel_button = ui.button("Cancel", icon="stop", color="negative", on_click=self.cancel)
                self.cancel_button.mark("cancel-button")
        self.tabs.on_value_change(self._update_buttons)

    def _config(self, name: str, modality: Modality) -> None:
        if not modality.available:
            with ui.column().classes("items-center w-full py-6").mark(f"coming-soon-{name}"):
                ui.icon("construction", size="3rem").classes("text-orange-600")
                ui.label(f"{modality.label} benchmarks: Coming Soon").classes("text-xl")
                metrics = ", ".join(metric.label for metric in modality.metrics)
                ui.label(f"Will measure: {metrics}").classes("text-gray-500")
            return
        self.forms[name] = InputsForm(modality.inputs, modality)

    def _update_buttons(self) -> None:
        """Run starts the selected tab's benchmark, so it is off on a Coming Soon tab and while one runs."""
        self.run_button.set_enabled(not self.live.following and self.tabs.value in self.forms)
        self.cancel_button.set_enabled(self.live.following)

    def request(self) -> RunRequest:
        """The run the header and the selected tab's form describe: what Run starts and Sweep sweeps."""
        name, bar = self.tabs.value, self.backend_bar
        form = self.forms.get(name)
        return RunRequest(
            modality=name,
            inputs=form.values() if form else {},
            backend=bar.kind.value,
            url=bar.url.value or None,
            api_key=bar.key(),
            read_timeout=bar.timeout(),
            model=bar.model.value,
        )

    async def start(self) -> None:
        """Run the selected tab's modality with its form's values."""
        try:
            run = await self.service.start(self.request())
        except LlamaBurnError as exc:
            self.live.log.push(f"error: {exc}")
            ui.notify(str(exc), type="negative", multi_line=True)
            return
        self.live.log.push(f"run {run.id[:8]} started: {run.target.model} on {run.target.backend.label}")
        self._follow(run)

    def _follow(self, run: Run) -> None:
        self.live.follow(run)
        self._update_buttons()

    def cancel(self) -> None:
        if self.live.run is not None:
            self.live.run.cancel()

    def _finished(self, run: Run) -> None:
        self._update_buttons()
        if run.iterations:
            self.results.show(run.id, run.modality.metrics, run.summary, run.iterations)

    def _mark_history_dirty(self) -> None:
        self._history_dirty = True

    def _run_announced(self, run: Run) -> None:
        self._announced = run  # followed on the next tick, in this page's own context

    def _tick(self) -> None:
        """Apply what other tasks told this page (an announced run, a run history did not take, a history
        change), in its own context."""
        if self._announced is not None:
            run, self._announced = self._announced, None
            if not self.live.following:  # an idle page shows a run started over the API
                self.live.log.push(f"run {run.id[:8]} started over the API: {run.target.model}")
                self._follow(run)
        for run, notice in self._unsaved:
            if run is self.live.run:  # the run this page shows: say where it went
                self.live.unsaved(notice)
        self._unsaved.clear()
        if self._history_dirty:
            self._history_dirty = False
            self.history.refresh()
