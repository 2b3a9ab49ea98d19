"""The recording under test, decoded from the file itself with PyAV: its duration is the decoded samples
divided by the sample rate, never a container header, a file name or a client's guess, so RTF divides by
what the server really had to transcribe."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import av

MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
MP4_FAMILY = "audio/mp4"  # PyAV names the MP4 demuxer "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True, slots=True)
class Recording:
    """A decoded recording: the file's bytes (sent as read), its format and what decoding it found."""

    data: bytes
    filename: str
    media_type: str
    duration_s: float
    sample_rate_hz: int
    channels: int
    decode_ms: float
    """The client's time to read and decode the file: client work, never part of the model's time."""


def read_recording(path: str) -> Recording:
    """Read and decode ``path``; ``ValueError`` with a one-line reason for a file that is not audio, is
    corrupt, or holds no samples (its RTF would divide by zero)."""
    started = time.perf_counter()
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
        with av.open(path) as container:
            if not container.streams.audio:
                raise ValueError(f"{name} has no audio stream")
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            rate = stream.codec_context.sample_rate
            channels = stream.codec_context.layout.nb_channels
            format_name = container.format.name
    except av.FFmpegError as exc:
        raise ValueError(f"{name} is not a readable recording: {exc.strerror or exc}") from None
    if not samples or not rate:
        raise ValueError(f"{name} holds no audio (0 samples decoded), so its real-time factor is undefined")
    media_type = MEDIA_TYPES.get(format_name, MP4_FAMILY if "mp4" in format_name else "application/octet-stream")
    return Recording(
        data=data, filename=name, media_type=media_type, duration_s=samples / rate, sample_rate_hz=rate,
        channels=channels, decode_ms=(time.perf_counter() - started) * 1000,
    )
