"""Image: describe a picture (a vision model), timing first token, decode rate and image processing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl, upload_path


class ImageInputs(Inputs):
    image_path: Annotated[str, upload_path("image")] = Field(
        description="The picture to describe (PNG, JPEG, WebP or GIF): an upload_id from POST /api/uploads."
    )
    prompt: str = Field(
        "Describe this image.",
        min_length=1,
        description="What to ask about the picture.",
        json_schema_extra={"multiline": True},
    )


class ImageModality(Modality):
    """Coming soon: sends the image base64-encoded in the chat message (Ollama ``images``)."""

    name = "image"
    label = "Image"
    inputs = ImageInputs
    metrics = (
        Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
        Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
        Metric(name="image_processing_ms", label="Image processing time", unit="ms", direction="lower"),
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(ImageModality())
