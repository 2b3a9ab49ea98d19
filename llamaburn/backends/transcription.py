"""The transcription capability: what a transcription request carries, what a backend yields back, and the
OpenAI-compatible ``POST /v1/audio/transcriptions`` protocol that several servers share (speaches, LocalAI,
vLLM, LM Studio, llama-server builds with audio).

A backend with ``"transcription"`` in its ``capabilities`` implements ``Backend.transcribe``: it sends the
audio file as multipart form data and yields ``TranscriptPiece``s as the text arrives. A streaming server
sends ``transcript.text.delta`` events, then ``transcript.text.done``; one that does not stream answers one
JSON ``{"text": ...}``. Which of the two a request got is the pieces' ``mode``, so a run records it.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx
from httpx_sse import EventSource, SSEError

from llamaburn.errors import BackendError, CapabilityError

if TYPE_CHECKING:
    from llamaburn.backends.base import Backend

Mode = Literal["stream", "single"]
PROBE_SECONDS = 0.5
PROBE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """One recording to transcribe, as its file's bytes (sent exactly as read, never re-encoded)."""

    model: str
    audio: bytes
    filename: str
    media_type: str
    language: str | None = None  # ISO-639-1 ("en"); None: the server detects it
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class TranscriptPiece:
    """What a transcription answer carries, in arrival order.

    ``delta`` is new text as it streams (``mode == "stream"``). ``text`` is the whole transcript where the
    server states it: the ``transcript.text.done`` event, or the single JSON answer (``mode == "single"``).
    ``segments`` counts the timed segments a server sent (whisper.cpp's ``verbose_json``); ``None``: none.
    """

    mode: Mode
    delta: str = ""
    text: str | None = None
    segments: int | None = None
    resent_at: float | None = None
    """As ``Chunk.resent_at``: the ``perf_counter`` reading of a resend on a fresh connection."""


def silent_wav(seconds: float = PROBE_SECONDS, rate: int = PROBE_RATE) -> bytes:
    """A short silent 16-bit mono WAV: what ``check_transcription`` sends to ask whether a model transcribes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


async def check_transcription(backend: Backend, model: str) -> None:
    """Refuse a model that cannot transcribe, before a run exists: a chat model picked for transcription.

    No protocol lists which models transcribe (an OpenAI-compatible ``/v1/models`` lists chat and speech
    models alike), so half a second of silence is sent to ``model``: a 4xx answer is a ``CapabilityError``
    carrying the server's own reason. A server that cannot be reached raises its ``BackendError`` as usual.
    """
    probe = TranscriptionRequest(model=model, audio=silent_wav(), filename="probe.wav", media_type="audio/wav")
    try:
        async for _piece in backend.transcribe(probe):
            pass
    except TranscriptionRefusedError as exc:
        raise CapabilityError(
            f"model {model!r} on {backend.label} at {backend.url} cannot transcribe ({exc}): "
            "pick a speech-to-text model (whisper...)"
        ) from None


class TranscriptionRefusedError(BackendError):
    """The server refused a transcription request as such (HTTP 400, 404, 415 or 422): the model, or the
    file, is not one it transcribes. An authentication or rate-limit answer is not a refusal of the model."""


REFUSALS = frozenset({400, 404, 415, 422})


def raise_for_answer(backend: Backend, response: httpx.Response) -> None:
    """``backend.raise_for_status``, with a refusal of the request raised as ``TranscriptionRefusedError``."""
    try:
        backend.raise_for_status(response)
    except BackendError as exc:
        if response.status_code in REFUSALS:
            raise TranscriptionRefusedError(str(exc)) from None
        raise


def form_fields(request: TranscriptionRequest, response_format: str, **extra: str) -> dict[str, str]:
    """The multipart text fields both protocols take; an unset option is left out, so the server's default holds."""
    fields = {"model": request.model, "response_format": response_format, **extra}
    if request.language:
        fields["language"] = request.language
    if request.temperature is not None:
        fields["temperature"] = f"{request.temperature:g}"
    return fields


def audio_file(request: TranscriptionRequest) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (request.filename, request.audio, request.media_type)}


async def stream_openai(backend: Backend, request: TranscriptionRequest) -> AsyncIterator[TranscriptPiece]:
    """``POST /v1/audio/transcriptions`` with ``stream=true``: SSE deltas when the server streams, else its
    single JSON answer (a server without streaming ignores the field). Read by the response's content type."""
    fields = form_fields(request, "json", stream="true")
    with backend.errors():
        response, resent_at = await backend.send_stream(
            "/v1/audio/transcriptions", data=fields, files=audio_file(request)
        )
        try:
            if resent_at is not None:
                yield TranscriptPiece(mode="single", resent_at=resent_at)
            if response.status_code >= 400:
                await response.aread()
                raise_for_answer(backend, response)
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                async for piece in _events(backend, response):
                    yield piece
            else:
                await response.aread()
                data = backend.decode(response.text)
                text = backend.field(data, "text", str, "a transcription")
                if text is None:
                    raise backend.broken("a transcription without its 'text'")
                yield TranscriptPiece(mode="single", text=text, segments=_segments(backend, data))
        finally:
            await response.aclose()


async def _events(backend: Backend, response: httpx.Response) -> AsyncIterator[TranscriptPiece]:
    done = False
    try:
        async for event in EventSource(response).aiter_sse():
            if done or not event.data.strip() or event.data.strip() == "[DONE]":
                continue
            data = backend.decode(event.data)
            kind = data.get("type") or event.event
            if kind == "transcript.text.delta":
                yield TranscriptPiece(mode="stream", delta=backend.field(data, "delta", str, "a delta event") or "")
            elif kind == "transcript.text.done":
                done = True
                yield TranscriptPiece(mode="stream", text=backend.field(data, "text", str, "a done event") or "")
            elif "error" in data:
                raise backend.broken(f"an error mid-stream: {json.dumps(data['error'])[:200]}")
    except SSEError as exc:
        raise backend.broken(f"no event stream: {exc}") from None
    if not done:
        raise BackendError(f"{backend.label} at {backend.url} ended the stream without transcript.text.done")


def _segments(backend: Backend, data: dict[str, Any]) -> int | None:
    segments = backend.field(data, "segments", list, "a transcription")
    return None if segments is None else len(segments)
