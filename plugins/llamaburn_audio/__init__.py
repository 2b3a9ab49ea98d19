"""Audio: transcribe a recording, timing it against the audio's own length."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl, upload_path


class AudioInputs(Inputs):
    audio_path: Annotated[str, upload_path("audio")] = Field(
        description="The recording to transcribe (WAV, MP3, FLAC or Ogg): an upload_id from POST /api/uploads."
    )
    reference_text: str | None = Field(None, description="The true transcript; enables WER when given.")


class AudioModality(Modality):
    """Coming soon: RTF = processing time / audio duration, so below 1 is faster than real time."""

    name = "audio"
    label = "Audio"
    inputs = AudioInputs
    metrics = (
        Metric(name="rtf", label="Real-time factor", unit="x", direction="lower"),
        Metric(name="wer", label="Word error rate", unit="%", direction="lower"),
        Metric(name="first_word_ms", label="Latency to first word", unit="ms", direction="lower"),
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(AudioModality())
