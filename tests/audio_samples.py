"""Real recordings for the audio tests: espeak-ng speaks a known sentence to WAV, sox converts it to FLAC
and Ogg Vorbis, and PyAV encodes MP3, Ogg Opus and M4A (AAC). Each file's duration is then what decoding it
gives, and its reference transcript is exactly the sentence spoken."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av

SENTENCE = "the quick brown fox jumps over the lazy dog"
HEARD = "the quick brown fox jumped over a lazy dog"
"""What the fake servers answer for ``SENTENCE``: two substitutions in nine words, so WER is 2/9 exactly."""
HEARD_ERRORS = 2
FORMATS = ("wav", "flac", "mp3", "ogg", "opus", "m4a")


def speak(text: str, path: Path) -> Path:
    """``text`` spoken by espeak-ng into the WAV file ``path``."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path


def _encode(wav: Path, path: Path, container: str, codec: str, rate: int | None = None) -> Path:
    """``wav`` re-encoded with PyAV as ``codec`` in ``container``, resampled to ``rate`` where the codec
    needs it (Opus takes 48 kHz only)."""
    with av.open(str(wav)) as source, av.open(str(path), "w", format=container) as out:
        decoded = source.streams.audio[0]
        sample_rate = rate or decoded.codec_context.sample_rate
        stream = out.add_stream(codec, rate=sample_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=sample_rate)
        for frame in source.decode(decoded):
            for fitted in resampler.resample(frame):
                out.mux(stream.encode(fitted))
        for fitted in resampler.resample(None):
            out.mux(stream.encode(fitted))
        out.mux(stream.encode(None))
    return path


def recording(directory: Path, fmt: str, text: str = SENTENCE) -> Path:
    """``text`` spoken, in format ``fmt`` (one of ``FORMATS``), in ``directory``."""
    wav = speak(text, directory / "speech.wav")
    if fmt == "wav":
        return wav
    if fmt in ("flac", "ogg"):
        path = directory / f"speech.{fmt}"
        subprocess.run(["sox", str(wav), str(path)], check=True, capture_output=True)
        return path
    if fmt == "mp3":
        return _encode(wav, directory / "speech.mp3", "mp3", "libmp3lame")
    if fmt == "opus":
        return _encode(wav, directory / "speech.opus.ogg", "ogg", "libopus", rate=48_000)
    return _encode(wav, directory / "speech.m4a", "ipod", "aac")


def decoded_seconds(path: Path) -> float:
    """The duration a decoder finds: samples / sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate
