"""A text field that also takes a file, as its declaration asks (``json_schema_extra={"text_file": True}``): a
``.txt`` file's text fills the field (Audio's reference transcript). A file field (``upload_path``) is
``ui/pictures.py``'s ``UploadInput``."""

from __future__ import annotations

from typing import Any

from nicegui import events, ui
from pydantic.fields import FieldInfo

MAX_TEXT_BYTES = 1024 * 1024  # a reference transcript; a longer .txt is not one


def _extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def takes_text_file(info: FieldInfo) -> bool:
    return bool(_extra(info).get("text_file"))


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
