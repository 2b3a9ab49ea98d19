"""Pictures in the UI: a drag-and-drop upload for a modality's file field, with a preview of the pictures the
modality makes of the file (a picture, a video's sampled frames as a strip, a scene's rendered views), and the
strip of pictures an iteration sent, beside the live answer.

The preview calls the modality's own ``pictures()`` (the vision path's client work) in a worker thread with
NiceGUI's ``run.io_bound``, so the page stays live while a video decodes. The sent pictures come from the
iteration's ``pictures`` detail: thumbnails the vision path keeps, so no face re-decodes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import events, run, ui

from llamaburn.engine.modality import Modality
from llamaburn.engine.vision import VisionModality, thumbnail
from llamaburn.errors import LlamaBurnError
from llamaburn.storage.uploads import ACCEPTED, FORMATS, Kind, Uploads

PREVIEW_SIDE = 240  # pixels: the preview's thumbnails, larger than an iteration's kept ones
Values = Callable[[], dict[str, Any]]


def preview_pictures(modality: VisionModality, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(data URL, label)`` of each picture ``modality`` makes of the form's ``values``: what Run would send.
    Blocking (decoding, rendering): the upload runs it with ``run.io_bound``. Bad input raises the same
    ``InputsError`` a run would."""
    pictures, _ = modality.pictures(modality.parse_inputs(values))
    return [(thumbnail(picture, PREVIEW_SIDE), picture.label) for picture in pictures]


class UploadInput:
    """A file field as a drop zone: the dropped file is stored as ``POST /api/uploads`` stores it (size limit,
    type by content, a server-made name in the data directory), the field's value becomes its ``upload_id``,
    and the preview shows what the modality would send."""

    def __init__(self, name: str, label: str, hint: str, kind: Kind, modality: Modality, values: Values) -> None:
        self.kind, self.modality, self.values = kind, modality, values
        self.upload_id: str | None = None
        accept = ",".join(sorted({f.extension for f in FORMATS[kind]} | {f.media_type for f in FORMATS[kind]}))
        with ui.column().classes("w-full gap-1").mark(f"field-{name}"):
            ui.label(label).classes("text-sm text-gray-600")
            self.upload = ui.upload(label=f"Drop {ACCEPTED[kind]} here", auto_upload=True, on_upload=self._stored)
            self.upload.props(f'accept="{accept}" flat bordered').classes("w-full").tooltip(hint)
            self.upload.mark(f"upload-{name}")
            with ui.row().classes("items-center gap-2"):
                self.status = ui.label("").classes("text-sm").mark(f"upload-status-{name}")
                self.again = ui.button("Preview again", icon="refresh", on_click=self.show_preview)
                self.again.props("flat dense no-caps size=sm").tooltip("with the form's settings as they are now")
                self.again.mark(f"preview-again-{name}").set_visibility(False)
            self.preview = ui.row().classes("w-full gap-2 overflow-x-auto").mark(f"preview-{name}")

    def value(self) -> str | None:
        return self.upload_id

    async def _stored(self, event: events.UploadEventArguments) -> None:
        try:
            upload = await Uploads().receive(self.kind, event.file.name, event.file.iterate())
        except (LlamaBurnError, OSError) as exc:
            self.upload_id = None
            self.again.set_visibility(False)
            self._say(f"{event.file.name}: {exc}", error=True)
            self.preview.clear()
            return
        finally:
            self.upload.reset()
        self.upload_id = upload.upload_id
        self.again.set_visibility(True)
        self._say(f"{upload.original_name}: {upload.media_type}, {upload.size:,} bytes")
        await self.show_preview()

    async def show_preview(self) -> None:
        """The pictures the modality makes of the file with the form's current settings, in a worker thread."""
        self.preview.clear()
        if not isinstance(self.modality, VisionModality):
            return
        try:
            shown = await run.io_bound(preview_pictures, self.modality, self.values()) or []
        except LlamaBurnError as exc:
            self._say(str(exc), error=True)
            return
        with self.preview:
            for url, label in shown:
                with ui.column().classes("items-center gap-0"):
                    ui.image(url).classes("w-40").props("fit=contain").mark("preview-picture")
                    ui.label(label).classes("text-xs text-gray-500")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.set_text(text)
        self.status.classes(replace="text-sm " + ("text-red-700" if error else "text-gray-600"))


class SentPictures:
    """The pictures the last completed request sent, as thumbnails with their labels and sizes; hidden for
    modalities that send none."""

    def __init__(self) -> None:
        self.strip = ui.row().classes("w-full gap-2 overflow-x-auto").mark("sent-pictures")
        self.strip.set_visibility(False)
        self._shown: list[dict[str, Any]] = []

    def clear(self) -> None:
        self._shown = []
        self.strip.clear()
        self.strip.set_visibility(False)

    def show(self, values: dict[str, Any]) -> None:
        """Show an iteration's ``pictures`` detail; the same pictures again are left as they are."""
        pictures = values.get("pictures")
        if not isinstance(pictures, list) or not pictures or pictures == self._shown:
            return
        self._shown = pictures
        self.strip.clear()
        with self.strip:
            for picture in pictures:
                with ui.column().classes("items-center gap-0"):
                    ui.image(picture.get("thumbnail", "")).classes("w-32").props("fit=contain").mark("sent-picture")
                    size = f"{picture.get('width')}x{picture.get('height')}, {picture.get('bytes', 0):,} B"
                    ui.label(f"{picture.get('label', '')} {size}".strip()).classes("text-xs text-gray-500")
        self.strip.set_visibility(True)
