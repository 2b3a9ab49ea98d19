"""3D: render a model's views offscreen and ask a vision model about them, timing the render apart from the answer.

Modules: ``inputs`` (the form, whose check reads the model), ``mesh`` (trimesh: one triangle mesh, or a one-line
refusal), ``views`` (the cameras), ``renderer`` (runs ``offscreen``, the VTK process that draws them).
"""

from __future__ import annotations

from collections.abc import Callable

from llamaburn.plugin import Metric, Modality, hookimpl

from .inputs import Graphics3DInputs

__all__ = ["Graphics3DInputs", "Graphics3DModality"]


class Graphics3DModality(Modality):
    name = "graphics3d"
    label = "3D"
    inputs = Graphics3DInputs
    metrics = (
        Metric(name="render_ms", label="Render time", unit="ms", direction="lower"),
        Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(Graphics3DModality())
