"""3D graphics: render or describe a model file, timing the render and the answer's stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl, upload_path


class Graphics3DInputs(Inputs):
    model_path: Annotated[str, upload_path("graphics3d")] = Field(
        description="The 3D model or scene (glTF, GLB or OBJ): an upload_id from POST /api/uploads."
    )


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
