"""A form rendered from a modality's pydantic ``Inputs`` model, so a plugin gets its UI for free."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Literal

from nicegui import ui
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from llamaburn.engine.modality import field_type

Reader = Callable[[], Any]


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


class InputsForm:
    """One input per field; ``values()`` gives a dict for ``Modality.parse_inputs`` to validate."""

    def __init__(self, model: type[BaseModel]) -> None:
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
        label, hint = _label(name), info.description or ""
        mark = f"field-{name}"
        if typing.get_origin(annotation) is list:
            area = ui.textarea(f"{label} (one per line)", value="\n".join(default or [])).classes("w-full")
            area.props("autogrow outlined").tooltip(hint).mark(mark)
            return lambda: [line for line in (area.value or "").splitlines() if line.strip()] or [area.value or ""]
        if typing.get_origin(annotation) is Literal:
            select = ui.select(list(typing.get_args(annotation)), label=label, value=default)
            select.classes("min-w-[10rem]").tooltip(hint).mark(mark)
            return lambda: select.value
        if annotation is bool:
            switch = ui.switch(label, value=bool(default)).tooltip(hint).mark(mark)
            return lambda: switch.value
        if annotation in (int, float):
            number = ui.number(
                label, value=default, step=1 if annotation is int else 0.1, precision=0 if annotation is int else 2
            )
            number.classes("w-32").props("outlined dense" + (" clearable" if optional else "")).tooltip(hint)
            number.mark(mark)
            return lambda: _as_int(number.value) if annotation is int else number.value
        field = (ui.textarea if name == "prompt" else ui.input)(label, value=default or "")
        field.classes("w-full").props("outlined").tooltip(hint).mark(mark)
        return lambda: (field.value or None) if optional else field.value


def _as_int(value: Any) -> Any:
    """ui.number gives floats; a whole one becomes an int, anything else goes to validation as it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
