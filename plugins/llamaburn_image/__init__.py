"""Image: a picture and a prompt to a vision model, timing its first token, its decode rate and the picture's
own prefill cost (image processing time), with the client's decoding and encoding timed apart.

PNG and JPEG go as they are, unless ``max_side`` asks for a smaller picture; WebP and a GIF's first frame are
sent as PNG, which every vision server decodes (llama.cpp's stb_image reads no WebP).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

from PIL import Image, UnidentifiedImageError
from pydantic import AfterValidator, Field

from llamaburn.plugin import (
    VISION_METRICS,
    Inputs,
    Metric,
    Modality,
    Picture,
    Prompt,
    VisionInputs,
    VisionModality,
    cli_flag,
    hookimpl,
    upload_path,
)

SENT_AS_IS = {"PNG": "image/png", "JPEG": "image/jpeg"}
JPEG_QUALITY = 90  # a resized JPEG is sent as JPEG again, at the quality cameras commonly use


def _decodable(path: str) -> str:
    """Refuse, at validation, a file whose magic bytes pass but whose picture cannot be decoded, or one whose
    pixels would pass Pillow's decompression-bomb limit (about 179 million)."""
    try:
        with Image.open(path) as opened:
            opened.load()
    except Image.DecompressionBombError as exc:
        raise ValueError(f"the image is too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"the image cannot be decoded: {exc}") from None
    return path


class ImageInputs(VisionInputs):
    image_path: Annotated[str, upload_path("image"), AfterValidator(_decodable)] = Field(
        description="The picture to describe (PNG, JPEG, WebP or GIF, its first frame): an upload_id from "
        "POST /api/uploads, or on the command line a local file.",
        json_schema_extra=cli_flag("--image"),
    )
    prompt: Prompt = Field(
        "Describe this image.", description="What to ask about the picture.",
        json_schema_extra={"multiline": True, **cli_flag("--prompt")},
    )
    max_side: int | None = Field(
        None, ge=16, le=16_384,
        description="Shrink the picture so its longest side is at most this many pixels before sending; "
        "empty: send it at its own size.",
        json_schema_extra=cli_flag("--max-side"),
    )


def load_picture(path: Path, max_side: int | None) -> tuple[Picture, dict[str, Any]]:
    """The picture to send, and what it was: decoded, its first frame taken, shrunk and encoded as needed."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        source_format = opened.format or "unknown"
        opened.seek(0)
        image = opened.copy()
    source_size = image.size
    resize = max_side is not None and max(source_size) > max_side
    if resize and max_side is not None:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if source_format in SENT_AS_IS and not resize:
        media_type = SENT_AS_IS[source_format]
    else:
        data, media_type = _encode(image, "JPEG" if source_format == "JPEG" else "PNG")
    picture = Picture(data, media_type, image.width, image.height, source_format)  # an upload's name is an id
    details = {
        "source_format": source_format,
        "source_width": source_size[0],
        "source_height": source_size[1],
        "resized": resize,
        "reencoded": source_format not in SENT_AS_IS or resize,
    }
    return picture, details


def _encode(image: Image.Image, image_format: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue(), "image/jpeg"
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")  # a CMYK or 16-bit picture, which not every server's PNG reader takes
    image.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"


class ImageModality(VisionModality):
    """Sends the picture in the chat message (Ollama ``images``, OpenAI ``image_url``) through the vision path."""

    name = "image"
    label = "Image"
    available = True
    inputs: ClassVar[type[Inputs]] = ImageInputs
    metrics: ClassVar[tuple[Metric, ...]] = tuple(
        VISION_METRICS[name]
        for name in (
            "ttft_ms", "tps", "image_processing_ms", "preprocessing_ms", "total_ms", "control_ttft_ms",
            "server_image_processing_ms", "server_prompt_ms", "picture_bytes", "output_tokens", "server_tps",
        )
    )

    def pictures(self, inputs: Inputs) -> tuple[list[Picture], dict[str, Any]]:
        assert isinstance(inputs, ImageInputs)
        picture, details = load_picture(Path(inputs.image_path), inputs.max_side)
        return [picture], details


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(ImageModality())
