"""The 3D modality: a vision modality whose pictures are the model's views, rendered on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from llamaburn.plugin import VISION_METRICS, Inputs, Metric, Picture, VisionModality

from .inputs import Graphics3DInputs
from .renderer import render
from .views import VIEWS

GRAPHICS3D_METRICS: tuple[Metric, ...] = (
    Metric(name="render_ms", label="Render time", unit="ms", direction="lower"),
    VISION_METRICS["tps"],
    VISION_METRICS["ttft_ms"],
    VISION_METRICS["image_processing_ms"],
    VISION_METRICS["total_ms"],
    *(
        Metric(name=f"render_{view.key}_ms", label=f"Render time, {view.name}", unit="ms", direction="lower")
        for view in VIEWS
    ),
    Metric(name="mesh_load_ms", label="Mesh load time", unit="ms", direction="lower"),
    VISION_METRICS["preprocessing_ms"],
    VISION_METRICS["control_ttft_ms"],
    VISION_METRICS["server_image_processing_ms"],
    VISION_METRICS["picture_bytes"],
    VISION_METRICS["output_tokens"],
)
"""Render time first, as the seed's table puts it, then the answer's; every view's own render time (a run
of fewer views leaves the others unknown, never 0)."""


class Graphics3DModality(VisionModality):
    """Renders ``views`` of the model offscreen (``renderer``); the vision path then sends them as pictures and
    times the answer. The rendering is client work, timed by the renderer itself and never part of TTFT."""

    name = "graphics3d"
    label = "3D"
    available = True
    inputs: ClassVar[type[Inputs]] = Graphics3DInputs
    metrics: ClassVar[tuple[Metric, ...]] = GRAPHICS3D_METRICS

    def pictures(self, inputs: Inputs) -> tuple[list[Picture], dict[str, Any]]:
        """The rendered views, in ``VIEWS`` order, as PNGs labelled with their view's name, and the renderer's
        timings (docs/metrics.md, "3D"): the total, each view's as ``render_<view>_ms``, loading and encoding."""
        assert isinstance(inputs, Graphics3DInputs)
        rendering = render(Path(inputs.model_path), inputs.views, inputs.render_size, inputs.max_faces)
        pictures = [
            Picture(data=view.png, media_type="image/png", width=view.width, height=view.height, label=view.name)
            for view in rendering.views
        ]
        return pictures, rendering.details | {f"render_{view.key}_ms": view.render_ms for view in rendering.views}
