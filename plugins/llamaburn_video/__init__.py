"""Video: frames sampled from a clip with PyAV, sent as pictures in one message to a vision model, timing how
many frames it ingests per second of prefill (frame rate), its first token, its decode rate and the client's
frame extraction apart.

Frames are taken ``fps`` per second of the clip (1 by default), evenly spaced over the whole clip when that
would pass ``max_frames`` (8), and sent as JPEG, the form video frames usually take.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

import av
from av.error import FFmpegError
from PIL import Image
from pydantic import AfterValidator, Field

from llamaburn.plugin import (
    VISION_METRICS,
    Inputs,
    InputsError,
    Metric,
    Modality,
    Picture,
    Prompt,
    Target,
    VisionInputs,
    VisionModality,
    cli_flag,
    hookimpl,
    upload_path,
)

JPEG_QUALITY = 90
VIDEO_METRICS = (
    Metric(name="frame_rate", label="Frame rate", unit="frames/s", direction="higher"),
    VISION_METRICS["ttft_ms"],
    VISION_METRICS["tps"],
    Metric(name="frame_extraction_ms", label="Frame extraction time", unit="ms", direction="lower"),
    VISION_METRICS["total_ms"],
    VISION_METRICS["image_processing_ms"],
    VISION_METRICS["control_ttft_ms"],
    VISION_METRICS["server_image_processing_ms"],
    Metric(name="frames_sent", label="Frames sent", unit="frames", direction="higher"),
    VISION_METRICS["picture_bytes"],
    VISION_METRICS["output_tokens"],
)


def _decodable(path: str) -> str:
    """Refuse, at validation, a clip with no video stream, one that cannot be decoded, or one with no frame."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError("the file has no video stream")
            if next(container.decode(container.streams.video[0]), None) is None:
                raise ValueError("the video has no frames to sample")
    except FFmpegError as exc:
        raise ValueError(f"the video cannot be decoded: {exc}") from None
    return path


class VideoInputs(VisionInputs):
    video_path: Annotated[str, upload_path("video"), AfterValidator(_decodable)] = Field(
        description="The clip to analyse (MP4, WebM, MKV or MOV): an upload_id from POST /api/uploads, or on the "
        "command line a local file.",
        json_schema_extra=cli_flag("--video"),
    )
    prompt: Prompt = Field(
        "Describe what happens in this video.", description="What to ask about the clip.",
        json_schema_extra={"multiline": True, **cli_flag("--prompt")},
    )
    fps: float = Field(
        1.0, gt=0, le=60, description="Frames to sample per second of the clip.", json_schema_extra=cli_flag("--fps")
    )
    max_frames: int = Field(
        8, ge=1, le=64, description="Most frames to send; past it, frames are spread evenly over the clip.",
        json_schema_extra=cli_flag("--max-frames"),
    )
    max_side: int | None = Field(
        None, ge=16, le=16_384, description="Shrink each frame so its longest side is at most this many pixels; "
        "empty: the clip's own size.", json_schema_extra=cli_flag("--max-side"),
    )


def sample_times(duration_s: float, fps: float, max_frames: int) -> list[float]:
    """When to take frames, in seconds from the clip's start: every ``1 / fps`` s while that gives at most
    ``max_frames``, else ``max_frames`` spread evenly (every ``duration / max_frames`` s); always one at 0."""
    wanted = max(1, math.ceil(duration_s * fps - 1e-9))
    if wanted <= max_frames:
        return [index / fps for index in range(wanted)]
    return [index * duration_s / max_frames for index in range(max_frames)]


def extract_frames(
    path: Path, fps: float, max_frames: int, max_side: int | None
) -> tuple[list[Picture], dict[str, Any]]:
    """The sampled frames as JPEG pictures, and the clip's facts: each frame is the first whose time reaches
    its sample time, found by seeking to the keyframe before it and decoding forward."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if stream.duration is not None:
            duration_s = float(stream.duration * stream.time_base)
        else:
            duration_s = (container.duration or 0) / av.time_base
        native_fps = float(stream.average_rate) if stream.average_rate else None
        pictures: list[Picture] = []
        taken: list[float] = []
        for target in sample_times(duration_s, fps, max_frames):
            frame = _frame_at(container, stream, start + target)
            if frame is None or (taken and frame.time is not None and frame.time - start <= taken[-1]):
                continue  # past the last frame, or the same frame again: a clip shorter than it says
            at = float(frame.time - start) if frame.time is not None else target
            pictures.append(_picture(frame.to_image(), max_side, f"t={at:.1f} s"))
            taken.append(at)
    if not pictures:
        raise InputsError([(("video_path",), "no frame of the video could be decoded")])
    return pictures, {
        "frames_sent": len(pictures),
        "frame_times_s": taken,
        "duration_s": duration_s,
        "native_fps": native_fps,
    }


def _frame_at(container: Any, stream: Any, at_s: float) -> av.VideoFrame | None:
    container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
    last = None
    half_frame = 0.5 / float(stream.average_rate) if stream.average_rate else 0.0
    for frame in container.decode(stream):
        last = frame
        if frame.time is None or frame.time >= at_s - half_frame:
            return frame
    return last


def _picture(image: Image.Image, max_side: int | None, label: str) -> Picture:
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    return Picture(buffer.getvalue(), "image/jpeg", image.width, image.height, label)


class VideoModality(VisionModality):
    """Sends the sampled frames as pictures in one message, through the vision path."""

    name = "video"
    label = "Video"
    available = True
    inputs: ClassVar[type[Inputs]] = VideoInputs
    metrics: ClassVar[tuple[Metric, ...]] = VIDEO_METRICS

    def pictures(self, inputs: Inputs) -> tuple[list[Picture], dict[str, Any]]:
        assert isinstance(inputs, VideoInputs)
        started = time.perf_counter()
        pictures, details = extract_frames(Path(inputs.video_path), inputs.fps, inputs.max_frames, inputs.max_side)
        return pictures, details | {"frame_extraction_ms": (time.perf_counter() - started) * 1000}

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        """The vision path's metrics and the frame rate: frames sent / (TTFT with frames - TTFT of the control),
        unknown when the frames cost no measurable time."""
        metrics = await super().measure(inputs, prompt, target, on_text)
        prefill_s = metrics["image_processing_ms"] / 1000
        return metrics | {"frame_rate": metrics["picture_count"] / prefill_s if prefill_s > 0 else None}


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(VideoModality())
