"""A form's file inputs, as a field's declaration asks (``json_schema_extra``):

- ``{"upload": kind}``: the file goes through ``Uploads.receive`` (checked by its content, kept under a
  server-made name), and the field's value is its ``upload_id``, as the API takes it;
- ``{"text_file": True}`` on a text field: a ``.txt`` file's text fills the field (a reference transcript).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from nicegui import events, ui
from pydantic.fields import FieldInfo

from llamaburn.errors import UploadError
from llamaburn.storage.uploads import ACCEPTED, Uploads, check_kind

MAX_TEXT_BYTES = 1024 * 1024  # a reference transcript; a longer .txt is not one


def _extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def upload_kind(info: FieldInfo) -> str | None:
    """The upload kind a field declares (``"audio"``), or ``None`` for a field typed in."""
    kind = _extra(info).get("upload")
    return kind if isinstance(kind, str) else None


def takes_text_file(info: FieldInfo) -> bool:
    return bool(_extra(info).get("text_file"))


class UploadInput:
    """A drop zone for one file of ``kind``; ``value`` is the stored upload's id, ``None`` until one is kept."""

    def __init__(self, label: str, kind: str, hint: str, mark: str) -> None:
        self.kind = check_kind(kind)
        self.value: str | None = None
        with ui.column().classes("w-full gap-1"):
            self.upload = ui.upload(label=label, auto_upload=True, max_files=1, on_upload=self._received)
            self.upload.classes("w-full").props("flat bordered").tooltip(hint).mark(mark)
            self.status = ui.label(f"Drop {ACCEPTED[self.kind]}").classes("text-sm text-gray-500")
            self.status.mark(f"{mark}-status")

    async def _received(self, event: events.UploadEventArguments) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield await event.file.read()

        try:
            stored = await Uploads().receive(self.kind, event.file.name, chunks())
        except UploadError as exc:
            self.value = None
            self.status.set_text(str(exc))
            self.status.classes(replace="text-sm text-negative")
            ui.notify(str(exc), type="negative")
        else:
            self.value = stored.upload_id
            self.status.set_text(f"{event.file.name}: {stored.media_type}, {stored.size:,} bytes")
            self.status.classes(replace="text-sm text-gray-500")
        self.upload.reset()


def text_file_input(target: ui.input | ui.textarea, mark: str) -> None:
    """A small drop zone under ``target`` that fills it with a UTF-8 ``.txt`` file's text."""

    async def received(event: events.UploadEventArguments) -> None:
        data = await event.file.read()
        try:
            target.value = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            ui.notify(f"{event.file.name} is not UTF-8 text", type="negative")
        upload.reset()

    upload = ui.upload(label="or drop a .txt", auto_upload=True, max_files=1, on_upload=received)
    upload.props(f'flat dense accept=".txt,text/plain" max-file-size={MAX_TEXT_BYTES}').classes("w-full")
    upload.mark(f"{mark}-file")
