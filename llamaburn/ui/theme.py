"""Light and dark: the page's dark mode, remembered in the browser, and the charts' colours following it.

The choice lives in the browser's ``localStorage`` (no server state, no ``storage_secret``; a phone and a laptop
keep their own): the page asks for it once connected, and the toggle writes it back. ``Chart`` is ``ui.echart``
with the page's palette applied on every update, since ECharts takes a theme only when a chart is created.
"""

from __future__ import annotations

from typing import Any

from nicegui import app, ui

STORAGE_KEY = "llamaburn-dark"
EVENT = "llamaburn-dark"
PALETTES = {
    False: {"text": "#333333", "axis": "#6e7079", "split": "#e0e6f1"},
    True: {"text": "#e5e7eb", "axis": "#9ca3af", "split": "#374151"},
}


def is_dark() -> bool:
    return bool(app.storage.client.get("dark", False))


def paint(options: dict[str, Any], dark: bool) -> None:
    """Colour ``options``' text, axes and grid lines for ``dark`` in place; the series keep their colours."""
    colours = PALETTES[dark]
    text = {"color": colours["text"]}
    options["darkMode"] = dark
    options["backgroundColor"] = "transparent"
    options["textStyle"] = text
    for key in ("title", "legend"):
        for part in _parts(options.get(key)):
            part["textStyle"] = {**part.get("textStyle", {}), **text}
    for key in ("xAxis", "yAxis"):
        for axis in _parts(options.get(key)):
            axis["axisLabel"] = {**axis.get("axisLabel", {}), "color": colours["axis"]}
            axis["nameTextStyle"] = {"color": colours["axis"]}
            axis["axisLine"] = {"lineStyle": {"color": colours["axis"]}}
            axis["splitLine"] = {**axis.get("splitLine", {}), "lineStyle": {"color": colours["split"]}}


def _parts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [part for part in value if isinstance(part, dict)] if isinstance(value, list) else []


class Chart(ui.echart):
    """``ui.echart`` in the page's light or dark palette."""

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        self._painting = False
        paint(options, is_dark())
        super().__init__(options, **kwargs)

    def update(self) -> None:
        if self._painting:  # the options are observed: painting them asks for an update of its own
            return
        self._painting = True
        try:
            paint(self.options, is_dark())
        finally:
            self._painting = False
        super().update()


class DarkToggle:
    """The header's light/dark button: the browser's remembered choice on load, saved again on each toggle."""

    def __init__(self) -> None:
        self.mode = ui.dark_mode(False)
        self.button = ui.button(icon="dark_mode", on_click=self.toggle).props("flat round").mark("dark-toggle")
        self.button.tooltip("Dark mode")
        ui.on(EVENT, lambda event: self.set(event.args == "true"))
        ui.run_javascript(f"emitEvent('{EVENT}', String(localStorage.getItem('{STORAGE_KEY}') === 'true'))")

    def toggle(self) -> None:
        self.set(not is_dark())
        ui.run_javascript(f"localStorage.setItem('{STORAGE_KEY}', '{str(is_dark()).lower()}')")

    def set(self, dark: bool) -> None:
        app.storage.client["dark"] = dark
        self.mode.set_value(dark)
        self.button.props(f"icon={'light_mode' if dark else 'dark_mode'}")
        for element in ui.context.client.elements.values():
            if isinstance(element, Chart):
                element.update()
