"""The history panel: every stored run, newest first, with its host and headline metric, a host filter (a
fleet shares one database), and delete, clear, compare, the selected runs' report, and "Set as Baseline" for
``llamaburn check``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from llamaburn.engine.format import mean, titled, when
from llamaburn.errors import LlamaBurnError
from llamaburn.service.runs import RunService
from llamaburn.storage.baselines import Baselines
from llamaburn.storage.store import RunRecord
from llamaburn.ui.report import ReportButtons

PAGE_SIZE = 200
ALL_HOSTS = ""  # the filter's "every host" choice: no host is named ""
COLUMNS: list[dict[str, Any]] = [
    {"name": "model", "label": "Model", "field": "model", "align": "left", "sortable": True},
    {"name": "metric", "label": "Metric", "field": "metric", "align": "left"},
    {"name": "value", "label": "Value", "field": "value", "sortable": True},
    {"name": "date", "label": "Date", "field": "date", "align": "left"},
    {"name": "host", "label": "Host", "field": "host", "align": "left", "sortable": True},
    {"name": "modality", "label": "Type", "field": "modality", "align": "left"},
    {"name": "backend", "label": "Backend", "field": "backend", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
]


class HistoryPanel:
    def __init__(self, service: RunService, on_compare: Callable[[list[str]], None]) -> None:
        self.service = service
        self.on_compare = on_compare
        with ui.card().classes("w-full"):
            with ui.row().classes("w-full items-center"):
                ui.label("History").classes("text-lg font-medium")
                ui.space()
                self.host_filter = ui.select(
                    {ALL_HOSTS: "All hosts"}, value=ALL_HOSTS, label="Host", on_change=self.refresh
                )
                self.host_filter.classes("min-w-[10rem]").mark("history-host")
                self.delete_button = ui.button("Delete", icon="delete", on_click=self.delete_selected)
                self.delete_button.props("flat").mark("history-delete")
                ui.button("Clear", icon="clear_all", on_click=self.confirm_clear).props("flat").mark("history-clear")
            self.table = ui.table(
                columns=COLUMNS,
                rows=[],
                row_key="id",
                selection="multiple",
                on_select=self._selection_changed,
                pagination=20,
            )
            self.table.classes("w-full").mark("history-table")
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

    def selected(self) -> list[str]:
        return [row["id"] for row in self.table.selected]

    def _selection_changed(self) -> None:
        count = len(self.table.selected)
        self.compare_button.set_enabled(count >= 2)
        self.delete_button.set_enabled(count >= 1)
        self.report_buttons.set_enabled(count >= 1)
        self.baseline_button.set_enabled(count == 1)

    def refresh(self) -> None:
        store = self.service.store
        try:
            hosts = [summary.host for summary in store.hosts() if summary.host is not None]
            chosen = self.host_filter.value if self.host_filter.value in hosts else ALL_HOSTS
            runs = store.list_runs(limit=PAGE_SIZE, host=chosen or None)
        except LlamaBurnError as exc:
            ui.notify(str(exc), type="negative")
            return
        self.host_filter.set_options({ALL_HOSTS: "All hosts", **{host: host for host in hosts}}, value=chosen)
        self.table.rows = [
            {
                "id": run.id,
                "model": run.model,
                **self._headline(run),
                "date": when(run.created_at),
                "host": run.host or "-",
                "modality": run.modality,
                "backend": run.backend,
                "status": run.status,
            }
            for run in runs
        ]
        ids = {run.id for run in runs}
        self.table.selected = [row for row in self.table.selected if row["id"] in ids]
        self.table.update()
        self._selection_changed()

    def _headline(self, run: RunRecord) -> dict[str, Any]:
        """The run's headline metric (its modality's first) and its mean; blanks if the plugin is gone."""
        modality = self.service.registry.modalities.get(run.modality)
        if modality is None or not modality.metrics:
            return {"metric": "-", "value": None}
        metric = modality.metrics[0]
        return {"metric": titled(metric), "value": mean(run.summary, metric.name)}

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
