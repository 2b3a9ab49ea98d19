""""Download report" and "Markdown" buttons: the report of some runs, built by ``llamaburn.report`` off the
event loop, handed to the browser with ``ui.download`` as bytes (nothing is written on the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui

from llamaburn.errors import LlamaBurnError
from llamaburn.report import MEDIA_TYPES, Format, build_report, filename, render
from llamaburn.service.runs import RunService


class ReportButtons(ui.row):
    """Download the report of the runs ``run_ids()`` names when clicked; ``mark`` prefixes the buttons' marks
    (``<mark>-report``, ``<mark>-report-md``)."""

    def __init__(self, service: RunService, run_ids: Callable[[], list[str]], mark: str) -> None:
        super().__init__()
        self.service = service
        self.run_ids = run_ids
        self.classes("items-center gap-1")
        with self:
            self.html = ui.button("Download report", icon="download", on_click=lambda: self.download("html"))
            self.html.props("flat").tooltip("One HTML file, charts included, that opens offline").mark(f"{mark}-report")
            self.markdown = ui.button("Markdown", icon="notes", on_click=lambda: self.download("md"))
            self.markdown.props("flat").tooltip("The report as Markdown, to paste into an issue")
            self.markdown.mark(f"{mark}-report-md")

    def set_enabled(self, enabled: bool) -> None:
        self.html.set_enabled(enabled)
        self.markdown.set_enabled(enabled)

    async def download(self, fmt: Format) -> None:
        modalities = self.service.registry.modalities
        try:
            report = await asyncio.to_thread(build_report, self.service.store, modalities, self.run_ids())
            text = await asyncio.to_thread(render, report, fmt)
        except LlamaBurnError as exc:  # a run deleted meanwhile, the store gone
            ui.notify(str(exc), type="warning")
            return
        ui.download.content(text.encode("utf-8"), filename(report, fmt), MEDIA_TYPES[fmt])
