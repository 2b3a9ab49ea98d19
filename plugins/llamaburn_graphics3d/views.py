"""The views a model is rendered from, in the order a run takes them: ``views = 4`` is front, side, top and
isometric, as a drawing shows an object; more add the opposite sides.

Axes are glTF's (+Y up, the front faces +Z), which OBJ exporters mostly follow too. A Z-up file (common for
STL from CAD) then shows its top as its front: still four different views of the object.
"""

from __future__ import annotations

from dataclasses import dataclass

Vector = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class View:
    """A camera: where it stands, seen from the model's centre, and which way is up on the picture."""

    name: str
    direction: Vector
    up: Vector

    @property
    def key(self) -> str:
        """The view's name as part of a metric's key: ``render_rear_isometric_ms``."""
        return self.name.replace(" ", "_")


VIEWS: tuple[View, ...] = (
    View("front", (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    View("side", (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    View("top", (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    View("isometric", (1.0, 1.0, 1.0), (0.0, 1.0, 0.0)),
    View("back", (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    View("other side", (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    View("bottom", (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    View("rear isometric", (-1.0, 1.0, -1.0), (0.0, 1.0, 0.0)),
)
DEFAULT_VIEWS = 4
