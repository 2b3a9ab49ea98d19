"""Finding the app's elements in NiceGUI's simulated ``user``, as a plugin's UI test needs to.

Every runnable modality's tab has its own form, so a marker such as ``field-iterations`` is on several
inputs; the one a user can act on is in the selected tab.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User


def marked(user: User, marker: str) -> Any:
    """The one element with ``marker`` that is not hidden in an unselected tab panel."""
    shown = [element for element in user.find(marker=marker).elements if _in_selected_tab(element)]
    if len(shown) != 1:
        raise LookupError(f"{len(shown)} elements marked {marker!r} in the selected tab, expected 1")
    return shown[0]


def _in_selected_tab(element: Any) -> bool:
    for ancestor in element.ancestors():
        panels = ancestor.parent_slot.parent if ancestor.parent_slot else None
        if isinstance(ancestor, ui.tab_panel) and isinstance(panels, ui.tab_panels) \
                and panels.value != ancestor.props.get("name"):
            return False
    return True
