"""Real pictures and clips for the vision tests, made by the tests: images with Pillow, videos with PyAV, each
with pixels that differ from frame to frame, so a wrong frame or a resized picture is caught."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

CLIP_RATE = 10  # frames per second of the test clips
CLIP_SIZE = (64, 48)
CONTAINERS = {  # suffix: (PyAV format, codec)
    ".mp4": ("mp4", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
    ".mkv": ("matroska", "libx264"),
    ".mov": ("mov", "libx264"),
}


def painted(width: int, height: int, shade: int = 0) -> Image.Image:
    """A gradient with a diagonal line: every pixel differs from its neighbours' colour, so any change shows."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :, 0] = x[None, :]
    pixels[:, :, 1] = y[:, None]
    pixels[:, :, 2] = shade
    for column in range(width):
        pixels[column * height // width, column] = (255, 255, 255)
    return Image.fromarray(pixels, "RGB")


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def gif(frames: list[Image.Image]) -> bytes:
    """An animated GIF; its first frame is the one a vision request sends."""
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def clip(path: Path, seconds: float = 3.0, rate: int = CLIP_RATE, size: tuple[int, int] = CLIP_SIZE) -> Path:
    """A clip of ``seconds`` at ``rate`` frames per second in ``path``'s container (by its suffix); frame ``i``
    is red-shaded ``i * 8``, so the sampled frames can be told apart."""
    container_format, codec = CONTAINERS[path.suffix]
    with av.open(str(path), "w", format=container_format) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(round(seconds * rate)):
            pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
            pixels[:, :, 0] = (index * 8) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def frameless(source: Path, path: Path) -> Path:
    """A clip whose video stream has packets but no frame a decoder can make: ``source``'s keyframe left out."""
    with av.open(str(source)) as original:
        stream = original.streams.video[0]
        with av.open(str(path), "w", format=CONTAINERS[path.suffix][0]) as output:
            copied = output.add_stream_from_template(stream)
            for packet in original.demux(stream):
                if packet.dts is None or packet.is_keyframe:
                    continue
                packet.stream = copied
                output.mux(packet)
    return path


def soundtrack(path: Path) -> Path:
    """An MP4 with an audio stream and no video stream."""
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            output.mux(packet)
    return path
