"""The main page, a dashboard: a header; a left drawer with what to set (backend, model and its info card, the
benchmark type tabs and their forms, Run/Cancel); the center with what is running (the live panel and its
charts) above the last result (or what to do when there is none); and History, Compare and Sweep a tab away.

One instance per browser tab. A run belongs to the service, not to the tab: closing the tab leaves it
running and it lands in history; the tab that started it follows it live. Ctrl+Enter runs, Esc cancels.
On a phone-width screen the drawer folds away behind the header's menu button.
"""

from __future__ import annotations

from nicegui import ui
from nicegui.events import KeyEventArguments

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
from llamaburn.ui.theme import DarkToggle

DRAWER_PX = 360  # the form's width on a desktop; on a 390 px phone it leaves the backdrop a tap to close
PHONE_PX = 760  # below this width the drawer is an overlay behind the menu button (Quasar's breakpoint)
VIEWS = {"run": ("Run", "play_circle"), "history": ("History", "history"), "compare": ("Compare", "compare_arrows"),
         "sweep": ("Sweep", "grid_on")}


class MainPage:
    def __init__(self, service: RunService) -> None:
        self.service = service
        self.forms: dict[str, InputsForm] = {}
        self._history_dirty = False
        with ui.header().classes("items-center gap-2 py-1 bg-orange-800 text-white"):
            menu = ui.button(icon="menu").props("flat round dense color=white").mark("menu-button")
            ui.label("LlamaBurn").classes("text-xl font-bold")
            ui.space()
            self.dark = DarkToggle()
            self.dark.button.props("color=white")
            dialog = plugins_dialog(service.registry)
            plugins = ui.button("Plugins", icon="extension", on_click=dialog.open).props("flat color=white")
            plugins.mark("plugins-button")
        self.drawer = ui.left_drawer(value=True, bordered=True).props(f"width={DRAWER_PX} breakpoint={PHONE_PX}")
        self.drawer.classes("p-3 gap-2").mark("settings-drawer")
        menu.on_click(self.drawer.toggle)
        with self.drawer:
            self.backend_bar = BackendBar(service, report=self._report)
            ui.separator()
            self._type_selector()
        with ui.column().classes("w-full gap-3 p-0").mark("dashboard"):
            with ui.tabs() as self.views:
                for name, (label, icon) in VIEWS.items():
                    ui.tab(name, label=label, icon=icon).mark(f"view-{name}")
            self.views.value = "run"
            self.views.props("inline-label no-caps dense align=left").classes("w-full").mark("views")
            with ui.column().classes("w-full gap-3") as run_view:
                self.live = LivePanel(self._finished)
                self.results = ResultsPanel(service)
            with ui.column().classes("w-full gap-3") as history_view:
                self.history = HistoryPanel(service, self.compare)
            with ui.column().classes("w-full gap-3") as compare_view:
                self.comparison = ComparisonPanel(service)
                self.comparison_empty = ui.label("Select two runs or more in History, then Compare Selected.")
                self.comparison_empty.classes("text-lg py-6")
            with ui.column().classes("w-full gap-3") as sweep_view:
                self.sweep = SweepPanel(service, self.request)
            self._view_columns = {"run": run_view, "history": history_view, "compare": compare_view,
                                  "sweep": sweep_view}
        self.views.on_value_change(self._show_view)
        self._show_view()
        ui.keyboard(on_key=self._key, ignore=[])
        self._update_buttons()
        self._show_last()
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

    def _report(self, message: str) -> None:
        self.live.log.push(message)

    def _type_selector(self) -> None:
        """The tabs, a form per runnable tab, and one Run/Cancel pair acting on the selected tab.

        A modality's own input widgets (an upload's preview) go inside its tab panel, under its form."""
        modalities = self.service.registry.modalities
        first = next(iter(modalities), None)  # text: the registry orders the built-ins first, third-party after
        ui.label("Benchmark Type").classes("text-base font-medium")
        with ui.tabs() as self.tabs:
            for name, modality in modalities.items():
                with ui.tab(name, label=modality.label).mark(f"tab-{name}"):
                    if not modality.available:
                        ui.badge("Coming Soon", color="orange").classes("ml-1").mark(f"soon-{name}")
        self.tabs.props("inline-label no-caps dense outside-arrows mobile-arrows align=left").classes("w-full")
        self.tabs.mark("type-tabs")
        with ui.tab_panels(self.tabs, value=first).classes("w-full bg-transparent").props("keep-alive"):
            for name, modality in modalities.items():
                with ui.tab_panel(name).classes("p-1"):
                    self._config(name, modality)
        with ui.row().classes("w-full gap-2"):
            self.run_button = ui.button("Run", icon="play_arrow", on_click=self.start).mark("run-button")
            self.run_button.classes("flex-1").tooltip("Ctrl+Enter")
            self.cancel_button = ui.button("Cancel", icon="stop", color="negative", on_click=self.cancel)
            self.cancel_button.mark("cancel-button").tooltip("Esc")
        self.tabs.on_value_change(self._update_buttons)

    def _config(self, name: str, modality: Modality) -> None:
        if not modality.available:
            with ui.column().classes("items-center w-full py-6").mark(f"coming-soon-{name}"):
                ui.icon("construction", size="3rem").classes("text-orange-600")
                ui.label(f"{modality.label} benchmarks: Coming Soon").classes("text-xl text-center")
                metrics = ", ".join(metric.label for metric in modality.metrics)
                ui.label(f"Will measure: {metrics}").classes("opacity-70 text-center")
            return
        self.forms[name] = InputsForm(modality.inputs, modality)

    def _show_view(self) -> None:
        """Show the chosen view. The others are hidden by CSS, not unmounted: each keeps its state and its
        charts, and NiceGUI's simulated user (which ignores CSS) reaches every panel, as the UI tests need."""
        for name, column in self._view_columns.items():
            if name == self.views.value:
                column.classes(remove="hidden")
            else:
                column.classes(add="hidden")

    async def _key(self, event: KeyEventArguments) -> None:
        """Ctrl+Enter (Cmd+Enter on a Mac) presses Run, Esc presses Cancel, wherever the focus is."""
        if not event.action.keydown or event.action.repeat:
            return
        if event.key.enter and (event.modifiers.ctrl or event.modifiers.meta) and self.run_button.enabled:
            await self.start()
        elif event.key.escape and self.live.following:
            self.cancel()

    def _update_buttons(self) -> None:
        """Run starts the selected tab's benchmark, so it is off on a Coming Soon tab and while one runs."""
        self.run_button.set_enabled(not self.live.following and self.tabs.value in self.forms)
        self.cancel_button.set_enabled(self.live.following)

    def request(self) -> RunRequest:
        """The run the backend bar and the selected tab's form describe: what Run starts and Sweep sweeps."""
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
        self.views.set_value("run")
        self.results.empty.set_visibility(False)  # a run is on: no "No runs yet" under it
        self.live.follow(run)
        self._update_buttons()

    def cancel(self) -> None:
        if self.live.run is not None:
            self.live.run.cancel()

    def compare(self, run_ids: list[str]) -> None:
        self.comparison.show(run_ids)
        self.comparison_empty.set_visibility(False)
        self.views.set_value("compare")

    def _finished(self, run: Run) -> None:
        self._update_buttons()
        if run.iterations:
            self.results.show(run.id, run.modality.metrics, run.summary, run.iterations)

    def _show_last(self) -> None:
        """An idle page shows the newest finished run's results: what came before, never an empty panel."""
        try:
            last = next((run for run in self.service.store.list_runs(limit=5) if run.status != "running"), None)
            modality = self.service.registry.modalities.get(last.modality) if last is not None else None
            if last is None or modality is None:
                return
            iterations = [it.metrics for it in self.service.store.iterations(last.id) if not it.warmup]
        except LlamaBurnError:
            return  # history's own panel says what is wrong with the store
        if iterations:
            self.results.show(last.id, modality.metrics, last.summary, iterations, title=f"Last run: {last.model}")

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
