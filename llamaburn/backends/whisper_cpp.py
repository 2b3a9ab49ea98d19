"""whisper.cpp's own server (``whisper-server``): ``POST /inference``, a multipart form answered with JSON.

It serves the one model it was started with (``-m ggml-base.en.bin``), has no model list and no version
endpoint, and never streams: ``verbose_json`` adds the timed segments to the text. It reads WAV only unless
it was started with ``--convert`` (which needs ffmpeg on its machine); an unreadable file is its 4xx/5xx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from llamaburn.backends.base import Backend, ChatRequest, Chunk, ModelEntry
from llamaburn.backends.transcription import (
    TranscriptionRequest,
    TranscriptPiece,
    audio_file,
    form_fields,
    raise_for_answer,
)
from llamaburn.errors import BackendError

MODEL_ID = "whisper.cpp"
"""The one model a whisper.cpp server offers: the file it loaded, which it does not name."""


class WhisperCppBackend(Backend):
    name = "whisper-cpp"
    label = "whisper.cpp server"
    default_url = "http://127.0.0.1:8080"
    url_placeholder: ClassVar[str | None] = "http://127.0.0.1:8080"
    unreachable_hint = "start it with `whisper-server -m models/ggml-base.en.bin --convert`"
    takes_api_key = True  # behind a proxy that wants one; whisper-server itself checks none
    capabilities = frozenset({"transcription"})

    async def version(self) -> str | None:
        return None  # whisper-server does not say

    async def models(self) -> list[ModelEntry]:
        """The loaded model, once the server answers: its page at ``/`` is what every build serves."""
        with self.errors():
            response = await self.client.get("/")
        if response.status_code >= 400:
            self.raise_for_status(response)
        return [ModelEntry(id=MODEL_ID, details={"family": "whisper"})]

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        raise BackendError(f"{self.label} only transcribes: pick a chat backend for {request.model!r}")

    async def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptPiece]:
        # whisper-server takes no model field (it has one model), so model is left out.
        fields = {k: v for k, v in form_fields(request, "verbose_json").items() if k != "model"}
        with self.errors():
            response, resent_at = await self.send_stream("/inference", data=fields, files=audio_file(request))
            try:
                if resent_at is not None:
                    yield TranscriptPiece(mode="single", resent_at=resent_at)
                await response.aread()
                raise_for_answer(self, response)
                data = self.decode(response.text)
                if isinstance(data.get("error"), str):
                    raise self.broken(f"an error: {data['error'][:200]}")
                text = self.field(data, "text", str, "an inference answer")
                if text is None:
                    raise self.broken("an inference answer without its 'text'")
                segments = self.field(data, "segments", list, "an inference answer")
                yield TranscriptPiece(mode="single", text=text, segments=None if segments is None else len(segments))
            finally:
                await response.aclose()
