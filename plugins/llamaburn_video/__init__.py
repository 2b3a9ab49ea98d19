"""Video: describe or analyse a clip, timing frames processed and the answer's stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl, upload_path


class VideoInputs(Inputs):
    video_path: Annotated[str, upload_path("video")] = Field(
        description="The clip to analyse (MP4 or WebM): an upload_id from POST /api/uploads."
    )
    prompt: str = Field(
        "Describe what happens in this video.",
        min_length=1,
        description="What to ask about the clip.",
        json_schema_extra={"multiline": True},
    )


class VideoModality(Modality):
    name = "video"
    label = "Video"
    inputs = VideoInputs
    metrics = (
        Metric(name="frame_rate", label="Frame rate", unit="fps", direction="higher"),
        Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
        Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(VideoModality())
