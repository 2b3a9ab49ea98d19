"""A form rendered from a modality's pydantic ``Inputs`` model, so a plugin gets its UI for free."""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable
from typing import Any, Literal

from nicegui import ui
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from llamaburn.engine.modality import Modality, field_type
from llamaburn.storage.uploads import upload_kind
from llamaburn.ui.pictures import UploadInput

Reader = Callable[[], Any]


def _label(name: str, info: FieldInfo) -> str:
    return info.title or name.replace("_", " ").capitalize()


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """A number field's ``ge``/``le`` as the input's min/max, so the browser stops what validation would refuse."""
    low = next((rule.ge for rule in info.metadata if getattr(rule, "ge", None) is not None), None)
    high = next((rule.le for rule in info.metadata if getattr(rule, "le", None) is not None), None)
    return low, high


def _multiline(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("multiline"))


class InputsForm:
    """One input per field; ``values()`` gives a dict for ``Modality.parse_inputs`` to validate. A file field
    (``upload_path``) is an upload whose preview shows what ``modality`` makes of the file."""

    def __init__(self, model: type[BaseModel], modality: Modality | None = None) -> None:
        self.modality = modality
        self.readers: dict[str, Reader] = {}
        with ui.row().classes("w-full items-start gap-4"):
            for name, info in model.model_fields.items():
                self.readers[name] = self._field(name, info)

    def values(self) -> dict[str, Any]:
        return {name: read() for name, read in self.readers.items()}

    def _field(self, name: str, info: FieldInfo) -> Reader:
        annotation, optional = field_type(info)
        default = None if info.default is PydanticUndefined else info.default
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        label, hint = _label(name, info), info.description or ""
        mark = f"field-{name}"
        if (kind := upload_kind(info.metadata)) is not None and self.modality is not None:
            return UploadInput(name, label, hint, kind, self.modality, self.values).value
        if typing.get_origin(annotation) is list:
            area = ui.textarea(f"{label} (one per line)", value="\n".join(str(v) for v in default or []))
            area.classes("w-full").props("autogrow outlined").tooltip(hint).mark(mark)
            return lambda: _lines(area.value or "")
        if typing.get_origin(annotation) is Literal:
            select = ui.select(list(typing.get_args(annotation)), label=label, value=default)
            select.classes("min-w-[10rem]").tooltip(hint).mark(mark)
            return lambda: select.value
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            options = {member.value: member.name for member in annotation}
            chosen = ui.select(options, label=label, value=default.value if isinstance(default, enum.Enum) else default)
            chosen.classes("min-w-[10rem]").tooltip(hint).mark(mark)
            return lambda: chosen.value
        if annotation is bool:
            switch = ui.switch(label, value=bool(default)).tooltip(hint).mark(mark)
            return lambda: switch.value
        if annotation in (int, float):
            low, high = _bounds(info)
            number = ui.number(
                label,
                value=default,
                step=1 if annotation is int else 0.1,
                precision=0 if annotation is int else 2,
                min=low,
                max=high,
            )
            number.classes("w-32").props("outlined dense" + (" clearable" if optional else "")).tooltip(hint)
            number.mark(mark)
            return lambda: _as_int(number.value) if annotation is int else number.value
        field = (ui.textarea if _multiline(info) else ui.input)(label, value=default or "")
        field.classes("w-full").props("outlined").tooltip(hint).mark(mark)
        return lambda: (field.value or None) if optional else field.value


def _lines(text: str) -> list[str]:
    """A text area's items, one per non-blank line. An empty area is an empty list (Code's prompts: use the
    suite); one holding only blanks sends them as one item, so the field's validation says what is wrong."""
    return [line for line in text.splitlines() if line.strip()] or ([text] if text else [])


def _as_int(value: Any) -> Any:
    """ui.number gives floats; a whole one becomes an int, anything else goes to validation as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
