"""The Audio modality: send a recording to a transcription server, time the answer against the recording's
own duration, and score it against a reference transcript when one is given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from llamaburn.plugin import (
    Inputs,
    Metric,
    Modality,
    Target,
    Transcript,
    TranscriptionRequest,
    TranscriptPiece,
    check_transcription,
)

from .accuracy import normalise, score
from .inputs import AudioInputs
from .recording import read_recording

AUDIO_METRICS = (
    Metric(name="rtf", label="Real-time factor", unit="x", direction="lower"),
    Metric(name="wer", label="Word error rate", unit="%", direction="lower"),
    Metric(name="first_word_ms", label="Latency to first word", unit="ms", direction="lower"),
    Metric(name="total_ms", label="Total time", unit="ms", direction="lower"),
    Metric(name="cer", label="Character error rate", unit="%", direction="lower"),
    Metric(name="words_per_s", label="Words per second", unit="words/s", direction="higher"),
    Metric(name="word_count", label="Words", unit="words", direction="higher"),
    Metric(name="processing_ms", label="Processing time", unit="ms", direction="lower"),
    Metric(name="decode_ms", label="Audio decode (client)", unit="ms", direction="lower"),
)


class AudioModality(Modality):
    """RTF = processing time / audio duration: below 1 is faster than real time."""

    name = "audio"
    label = "Audio"
    available = True
    inputs = AudioInputs
    metrics = AUDIO_METRICS
    requires = frozenset({"transcription"})
    transcript = Transcript(audio_input="audio_path", words_detail="word_alignment")

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, AudioInputs)
        return f"Transcribe {inputs.audio_path.rsplit('/', 1)[-1]}"

    async def preflight(self, inputs: Inputs, target: Target) -> None:
        await check_transcription(target.backend, target.model)

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        assert isinstance(inputs, AudioInputs)
        # Client work, in a thread and before the request: never part of the model's time.
        recording = await asyncio.to_thread(read_recording, inputs.audio_path)
        request = TranscriptionRequest(
            model=target.model, audio=recording.data, filename=recording.filename,
            media_type=recording.media_type, language=inputs.language, temperature=inputs.temperature,
        )
        timed = await _timed(target.backend.transcribe(request), on_text)
        processing_s = timed["processing_ms"] / 1000
        words = normalise(timed["transcript"]).split()
        metrics: dict[str, Any] = {
            **timed,
            "rtf": processing_s / recording.duration_s,
            "word_count": len(words),
            "words_per_s": len(words) / processing_s if processing_s > 0 else None,
            "decode_ms": recording.decode_ms,
            "audio_duration_s": recording.duration_s,
            "sample_rate_hz": recording.sample_rate_hz,
            "channels": recording.channels,
            "media_type": recording.media_type,
            "wer": None, "cer": None, "word_alignment": None,
        }  # fmt: skip
        if inputs.reference_text is not None:
            result = score(inputs.reference_text, timed["transcript"])
            metrics |= {
                "wer": result.wer, "cer": result.cer, "substitutions": result.substitutions,
                "deletions": result.deletions, "insertions": result.insertions,
                "reference_words": result.reference_words, "word_alignment": result.words,
            }  # fmt: skip
        return metrics


async def _timed(pieces: AsyncIterator[TranscriptPiece], on_text: Callable[[str], None]) -> dict[str, Any]:
    """Consume one transcription answer, timing it: processing runs from the send (the first ``__anext__``)
    to the last piece carrying text, ``first_word_ms`` to the first streamed delta holding a non-space
    character (``None`` without streaming: unknown, never the total), ``total_ms`` to the answer's end."""
    started = time.perf_counter()
    first_word: float | None = None
    last_text = started
    deltas: list[str] = []
    stated: str | None = None
    mode, segments, reconnects = "single", None, 0
    async for piece in pieces:
        now = time.perf_counter()
        if piece.resent_at is not None:
            started, last_text, reconnects = piece.resent_at, piece.resent_at, reconnects + 1
            continue
        mode, segments = piece.mode, piece.segments if piece.segments is not None else segments
        if piece.delta:
            deltas.append(piece.delta)
            on_text(piece.delta)
            last_text = now
            if first_word is None and piece.delta.strip():
                first_word = now
        if piece.text is not None:
            stated = piece.text
            if not deltas:
                on_text(piece.text)
                last_text = now
    ended = time.perf_counter()
    return {
        "transcript": stated if stated is not None else "".join(deltas),
        "transcription_mode": mode,
        "first_word_ms": (first_word - started) * 1000 if first_word is not None else None,
        "processing_ms": (last_text - started) * 1000,
        "total_ms": (ended - started) * 1000,
        "segments": segments,
        "reconnects": reconnects,
    }
