"""The history panel: every stored run, newest first, as the spec's wireframe lists them (Model | TPS | TTFT |
Date, then type, backend, host and status), sortable, with a search box and filters by host (a fleet shares
one database), model, type and status; and delete, clear, compare, the selected runs' report, and "Set as
Baseline" for ``llamaburn check``.

The metric columns are the first two headline metrics of each modality in the list, by the registry's order
(text's TPS and TTFT first), so a plugin's runs show their own; a run fills the columns its modality declares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from llamaburn.engine.format import mean, titled, when
from llamaburn.engine.metrics import Metric
from llamaburn.errors import LlamaBurnError
from llamaburn.service.runs import RunService
from llamaburn.storage.baselines import Baselines
from llamaburn.storage.records import RunRecord
from llamaburn.ui.report import ReportButtons

PAGE_SIZE = 200
ANY = ""  # a filter's "every value" choice: no host, model, type or status is named ""
METRIC_COLUMNS = 2  # per modality: the spec's TPS and TTFT for text
EMPTY = "No runs yet: press Run, and each run lands here."


def _column(name: str, label: str, *, sortable: bool = True, align: str = "left") -> dict[str, Any]:
    return {"name": name, "label": label, "field": name, "align": align, "sortable": sortable}


class HistoryPanel:
    def __init__(self, service: RunService, on_compare: Callable[[list[str]], None]) -> None:
        self.service = service
        self.on_compare = on_compare
        self.runs: list[RunRecord] = []
        with ui.card().classes("w-full"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label("History").classes("text-lg font-medium")
                self.search = ui.input(placeholder="Search").props("dense clearable outlined").classes("w-48")
                self.search.props("debounce=200").mark("history-search")
                with self.search.add_slot("prepend"):
                    ui.icon("search")
                self.host_filter = self._filter("Host", "history-host", self.refresh)
                self.model_filter = self._filter("Model", "history-model", self._show)
                self.modality_filter = self._filter("Type", "history-type", self._show)
                self.status_filter = self._filter("Status", "history-status", self._show)
                ui.space()
                self.delete_button = ui.button("Delete", icon="delete", on_click=self.delete_selected)
                self.delete_button.props("flat").mark("history-delete")
                ui.button("Clear", icon="clear_all", on_click=self.confirm_clear).props("flat").mark("history-clear")
            self.table = ui.table(
                columns=self._columns([]),
                rows=[],
                row_key="id",
                selection="multiple",
                on_select=self._selection_changed,
                pagination=20,
            )
            self.table.classes("w-full").props(f'dense flat no-data-label="{EMPTY}"').mark("history-table")
            self.table.bind_filter_from(self.search, "value")
            with ui.row().classes("items-center gap-1"):
                self.compare_button = ui.button(
                    "Compare Selected", icon="compare_arrows", on_click=lambda: self.on_compare(self.selected())
                )
                self.compare_button.mark("compare-button")
                self.report_buttons = ReportButtons(service, self.selected, "history")
                self.baseline_button = ui.button("Set as Baseline", icon="flag", on_click=self.set_baseline)
                self.baseline_button.props("flat").mark("baseline-button")
        with ui.dialog() as self.dialog, ui.card():
            ui.label("Delete every run in history? This cannot be undone.")
            with ui.row():
                ui.button("Cancel", on_click=self.dialog.close).props("flat")
                ui.button("Clear history", color="negative", on_click=self.clear).mark("confirm-clear")
        self.refresh()

    @staticmethod
    def _filter(label: str, mark: str, on_change: Callable[[], None]) -> ui.select:
        select = ui.select({ANY: f"All {label.lower()}s"}, value=ANY, label=label, on_change=on_change)
        return select.classes("min-w-[8rem]").props("dense options-dense").mark(mark)

    def selected(self) -> list[str]:
        return [row["id"] for row in self.table.selected]

    def _selection_changed(self) -> None:
        count = len(self.table.selected)
        self.compare_button.set_enabled(count >= 2)
        self.delete_button.set_enabled(count >= 1)
        self.report_buttons.set_enabled(count >= 1)
        self.baseline_button.set_enabled(count == 1)

    def refresh(self) -> None:
        """Read history again (the host filter is the store's: a fleet's database can be large)."""
        store = self.service.store
        try:
            hosts = [summary.host for summary in store.hosts() if summary.host is not None]
            chosen = self.host_filter.value if self.host_filter.value in hosts else ANY
            self.runs = store.list_runs(limit=PAGE_SIZE, host=chosen or None)
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.host_filter.set_options({ANY: "All hosts", **{host: host for host in hosts}}, value=chosen)
        for select, field, everything in (
            (self.model_filter, "model", "All models"),
            (self.modality_filter, "modality", "All types"),
            (self.status_filter, "status", "All statuses"),
        ):
            values = sorted({getattr(run, field) for run in self.runs})
            select.set_options({ANY: everything, **{value: value for value in values}},
                               value=select.value if select.value in values else ANY)
        self._show()

    def _show(self) -> None:
        """The rows the model, type and status filters let through; the host filter already applied."""
        wanted = {"model": self.model_filter.value, "modality": self.modality_filter.value,
                  "status": self.status_filter.value}
        runs = [run for run in self.runs
                if all(not value or getattr(run, key) == value for key, value in wanted.items())]
        metrics = self._metric_columns(runs)
        self.table.columns = self._columns(metrics)
        self.table.rows = [self._row(run, metrics) for run in runs]
        ids = {run.id for run in runs}
        self.table.selected = [row for row in self.table.selected if row["id"] in ids]
        self.table.update()
        self._selection_changed()

    def _metric_columns(self, runs: list[RunRecord]) -> list[Metric]:
        present = {run.modality for run in runs}
        found: dict[str, Metric] = {}
        for name, modality in self.service.registry.modalities.items():
            if name in present:
                for metric in modality.metrics[:METRIC_COLUMNS]:
                    found.setdefault(metric.name, metric)
        return list(found.values())

    @staticmethod
    def _columns(metrics: list[Metric]) -> list[dict[str, Any]]:
        return [
            _column("model", "Model"),
            *(_column(m.name, titled(m), align="right") for m in metrics),
            _column("date", "Date", sortable=False),
            _column("modality", "Type"),
            _column("backend", "Backend"),
            _column("host", "Host"),
            _column("status", "Status"),
        ]

    def _row(self, run: RunRecord, metrics: list[Metric]) -> dict[str, Any]:
        """A run's row; a metric its modality does not declare (or a plugin that is gone) stays blank."""
        modality = self.service.registry.modalities.get(run.modality)
        declared = {metric.name for metric in modality.metrics} if modality is not None else set()
        return {
            "id": run.id,
            "model": run.model,
            **{m.name: mean(run.summary, m.name) if m.name in declared else None for m in metrics},
            "date": when(run.created_at),
            "host": run.host or "-",
            "modality": run.modality,
            "backend": run.backend,
            "status": run.status,
        }

    async def delete_selected(self) -> None:
        for run_id in self.selected():
            try:
                await self.service.delete_run(run_id)
            except LlamaBurnError as exc:
                ui.notify(str(exc), type="warning")

    def set_baseline(self) -> None:
        """The selected run becomes the (untagged) baseline of its host, backend, model and modality."""
        try:
            run = self.service.store.get_run(self.selected()[0])
            Baselines(self.service.store).set(run)
        except (LlamaBurnError, IndexError) as exc:
            ui.notify(str(exc) or "select one run", type="warning")
            return
        ui.notify(f"Baseline of {run.model} on {run.backend} at {run.host or 'an unknown host'}: run {run.id[:8]}")

    def confirm_clear(self) -> None:
        self.dialog.open()

    async def clear(self) -> None:
        self.dialog.close()
        count = await self.service.clear_history()
        ui.notify(f"Cleared {count} run{'s' if count != 1 else ''}")
