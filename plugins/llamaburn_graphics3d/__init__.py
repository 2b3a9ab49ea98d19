"""3D graphics: render or describe a model file, timing the render and the answer's stream."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl


class Graphics3DInputs(Inputs):
    model_path: str = Field(description="The 3D model or scene (glTF, OBJ or STL).")


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
