"""The Plugins dialog: every modality and backend, where it comes from, and any plugin that failed."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from llamaburn.engine.registry import Registry

COLUMNS: list[dict[str, Any]] = [
    {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
    {"name": "name", "label": "Name", "field": "name", "align": "left"},
    {"name": "label", "label": "Label", "field": "label", "align": "left"},
    {"name": "distribution", "label": "Distribution", "field": "distribution", "align": "left"},
    {"name": "version", "label": "Version", "field": "version", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "error", "label": "Error", "field": "error", "align": "left"},
]


def plugins_dialog(registry: Registry) -> ui.dialog:
    rows = [
        {
            **info.model_dump(),
            "id": f"{info.kind}:{info.name}:{index}",
            "status": "error" if info.error else "available" if info.available else "coming soon",
        }
        for index, info in enumerate(registry.describe())
    ]
    with ui.dialog() as dialog, ui.card().classes("min-w-[48rem]"):
        ui.label("Plugins").classes("text-lg font-medium")
        ui.table(columns=COLUMNS, rows=rows, row_key="id").props("dense flat").classes("w-full").mark("plugins-table")
        ui.button("Close", on_click=dialog.close).props("flat")
    return dialog
