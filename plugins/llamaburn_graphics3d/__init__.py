"""3D: render a model's views offscreen and ask a vision model about them, timing the render apart from the answer.

Modules: ``inputs`` (the form, whose check reads the model), ``mesh`` (trimesh: one triangle mesh, or a one-line
refusal), ``views`` (the cameras), ``renderer`` (runs ``offscreen``, the VTK process that draws them),
``modality`` (the views as the vision path's pictures).
"""

from __future__ import annotations

from collections.abc import Callable

from llamaburn.plugin import Modality, hookimpl

from .inputs import Graphics3DInputs
from .modality import Graphics3DModality

__all__ = ["Graphics3DInputs", "Graphics3DModality"]


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(Graphics3DModality())
