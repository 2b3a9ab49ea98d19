"""The vision path that Image, Video and 3D share: make pictures (client work, timed apart), send them with the
prompt to a vision model, and tell the pictures' prefill cost apart from the rest of the TTFT.

A vision modality only says how its input becomes pictures (``pictures()``). ``measure()`` then sends, in each
iteration, a text-only control request with the same prompt and the request with the pictures, both with the
prompt cache defeated, so ``image_processing_ms`` (TTFT with pictures minus TTFT of the control) is the cost of
the pictures alone, whatever the server reports; the server's own prompt times are stored beside it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from PIL import Image
from pydantic import Field, field_validator

from llamaburn.backends.base import ChatRequest
from llamaburn.backends.picture import Picture
from llamaburn.engine.cache import apply_cache_mode, check_cache_mode
from llamaburn.engine.metrics import Metric, measure_stream
from llamaburn.engine.modality import Inputs, Modality, Target, cli_flag
from llamaburn.errors import InputsError

__all__ = ["VISION_METRICS", "Picture", "VisionInputs", "VisionModality", "thumbnail"]

CONTROL_MAX_TOKENS = 1
"""The control request only has to show its first token: its TTFT is all ``image_processing_ms`` uses."""
THUMBNAIL_SIDE = 160
"""Longest side, in pixels, of the thumbnails an iteration keeps of its pictures for the live panel and
history: a few kilobytes each, where the pictures sent can be megabytes."""

VISION_METRICS = {
    metric.name: metric
    for metric in (
        Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
        Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
        Metric(name="image_processing_ms", label="Image processing time", unit="ms", direction="lower"),
        Metric(name="preprocessing_ms", label="Preprocessing time", unit="ms", direction="lower"),
        Metric(name="total_ms", label="Total time", unit="ms", direction="lower"),
        Metric(name="control_ttft_ms", label="TTFT without pictures", unit="ms", direction="lower"),
        Metric(name="server_image_processing_ms", label="Server image processing", unit="ms", direction="lower"),
        Metric(name="server_prompt_ms", label="Server prompt time", unit="ms", direction="lower"),
        Metric(name="picture_bytes", label="Bytes sent", unit="B", direction="lower"),
        Metric(name="output_tokens", label="Output tokens", unit="tok", direction="higher"),
        Metric(name="server_tps", label="Server TPS", unit="tok/s", direction="higher"),
    )
}
"""The metrics every vision modality can report, by name: a modality picks its set from these (in its own
order) and adds its own (a video's frame rate, a scene's render time)."""


class VisionInputs(Inputs):
    """What every vision modality asks besides its file: the prompt and how to sample the answer."""

    prompt: str = Field(
        "Describe this image.", min_length=1, description="What to ask about the pictures.",
        json_schema_extra={"multiline": True, **cli_flag("--prompt")},
    )
    temperature: float = Field(
        0.2, ge=0.0, le=2.0, description="Sampling temperature, 0 to 2.", json_schema_extra=cli_flag("--temperature")
    )
    max_tokens: int = Field(
        256, ge=1, le=131_072, description="Most tokens to generate per answer.",
        json_schema_extra=cli_flag("--max-tokens"),
    )
    seed: int | None = Field(
        None, description="Sampling seed, for repeatable answers where supported.", json_schema_extra=cli_flag("--seed")
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("the prompt is empty")
        return prompt


def thumbnail(picture: Picture, max_side: int = THUMBNAIL_SIDE) -> str:
    """A small JPEG of ``picture`` as a ``data:`` URL, for a face to show; blocking (Pillow): run it in a thread."""
    with Image.open(io.BytesIO(picture.data)) as opened:
        image = opened.convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75)
    return f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def describe_pictures(pictures: list[Picture]) -> list[dict[str, Any]]:
    """What an iteration keeps of each picture it sent: as sent (size, format, bytes) and a thumbnail."""
    return [
        {
            "label": picture.label,
            "width": picture.width,
            "height": picture.height,
            "media_type": picture.media_type,
            "bytes": len(picture.data),
            "thumbnail": thumbnail(picture),
        }
        for picture in pictures
    ]


def _discard(text: str) -> None:
    """The control request's answer is not shown: only its first token's arrival counts."""


class VisionModality(Modality):
    """Base class of the modalities that send pictures to a vision model: subclasses implement ``pictures()``
    and pick their ``metrics``; ``measure()`` is shared."""

    requires: ClassVar[frozenset[str]] = frozenset({"chat", "vision"})
    inputs: ClassVar[type[Inputs]] = VisionInputs

    def pictures(self, inputs: Inputs) -> tuple[list[Picture], dict[str, Any]]:
        """The client work that makes the pictures (decode, resize, encode; sample frames; render views) and
        its own details and metrics (``{"frame_extraction_ms": ..., "frame_times_s": [...]}``), merged into
        the iteration's. Blocking, and needs no backend: the UI's upload preview calls it too, in a thread.
        Bad content raises ``InputsError`` naming the field."""
        raise NotImplementedError

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, VisionInputs)
        return inputs.prompt

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        """Make the pictures (timed as ``preprocessing_ms``, never part of TTFT), send the text-only control,
        then the request with the pictures, whose answer streams to ``on_text``; docs/metrics.md has the
        formulas. Both are cold: the nonce goes in a system message, before the pictures, because Ollama
        puts a message's images before its text, so a nonce in the text would leave the pictures cached."""
        assert isinstance(inputs, VisionInputs)
        started = time.perf_counter()
        pictures, details = await asyncio.to_thread(self.pictures, inputs)
        preprocessing_ms = (time.perf_counter() - started) * 1000
        if not pictures:
            raise InputsError([((), f"{self.label} made no pictures to send")])
        base = ChatRequest(
            model=target.model, prompt=prompt, temperature=inputs.temperature, max_tokens=inputs.max_tokens,
            seed=inputs.seed,
        )
        control_request, _ = await apply_cache_mode(
            target.backend, replace(base, max_tokens=CONTROL_MAX_TOKENS), "cold", nonce_in_system=True
        )
        control = await measure_stream(target.backend.stream_chat(control_request), _discard)
        request, method = await apply_cache_mode(
            target.backend, replace(base, pictures=pictures), "cold", nonce_in_system=True
        )
        metrics = await measure_stream(target.backend.stream_chat(request), on_text)
        described = await asyncio.to_thread(describe_pictures, pictures)
        return (
            metrics
            | check_cache_mode(target.backend, metrics, "cold", method)
            | picture_metrics(metrics, control, preprocessing_ms, described)
            | details
        )


def picture_metrics(
    metrics: dict[str, Any], control: dict[str, Any], preprocessing_ms: float, pictures: list[dict[str, Any]]
) -> dict[str, Any]:
    """The pictures' share of the request: the TTFT difference with the control (client clock, any server) and
    the server's prompt-time difference where it reports both (Ollama ``prompt_eval_duration``, llama.cpp
    ``timings.prompt_ms``). A difference can come out negative when the pictures cost less than the noise."""
    server, server_control = metrics.get("server_prompt_ms"), control.get("server_prompt_ms")
    return {
        "image_processing_ms": metrics["ttft_ms"] - control["ttft_ms"],
        "control_ttft_ms": control["ttft_ms"],
        "server_image_processing_ms": server - server_control
        if server is not None and server_control is not None
        else None,
        "control_server_prompt_ms": server_control,
        "preprocessing_ms": preprocessing_ms,
        "picture_count": len(pictures),
        "picture_bytes": sum(picture["bytes"] for picture in pictures),
        "pictures": pictures,
    }
