"""Fake transcription servers with exact clocks: the OpenAI-compatible ``/v1/audio/transcriptions``
(streamed over SSE, or one JSON answer) and whisper.cpp's ``/inference``, on one real loopback port.

Each request's audio is decoded with PyAV, as a real server must, and its answer is paced by that audio's
duration: with ``rtf`` 0.5, the last text leaves the server 0.5 s after the request arrived for each second
of audio, so a test can check the client's RTF against the server's own clock (``served``). A stream's
first word leaves at ``first_word_s``, and the rest of the words evenly after it until that end.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import av
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SPEECH_MODEL = "whisper-1"
CHAT_MODEL = "llama3.2:1b"


class _Dropped(Exception):
    """Raised mid-body: uvicorn then closes the socket without ending the chunked body."""


@dataclass
class Served:
    """One transcription the server answered, on its ``time.monotonic()`` clock."""

    path: str
    fields: dict[str, str]
    filename: str
    audio_bytes: int
    duration_s: float
    received_at: float
    client_port: int
    headers: dict[str, str] = field(default_factory=dict)
    first_word_at: float | None = None
    last_text_at: float | None = None

    @property
    def processing_s(self) -> float:
        assert self.last_text_at is not None
        return self.last_text_at - self.received_at


@dataclass
class Behaviour:
    """How the server answers; change it between requests. ``drop_after``: close the connection after that
    many streamed words, in every answer or only in the ``drop_request``-th (0-based, of those answered)."""

    transcript: str = "the quick brown fox jumps over the lazy dog"
    rtf: float = 0.5
    first_word_s: float = 0.05
    stream: bool = True
    drop_after: int | None = None
    drop_request: int | None = None
    speech_models: Sequence[str] = (SPEECH_MODEL,)
    chat_models: Sequence[str] = (CHAT_MODEL,)
    served: list[Served] = field(default_factory=list)


def audio_seconds(data: bytes) -> float:
    """The decoded duration of an audio file: samples / sample rate, as the client computes it."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        samples: int = sum(frame.samples for frame in container.decode(stream))
        return float(samples / stream.codec_context.sample_rate)


class FakeTranscriptionServer:
    """``with FakeTranscriptionServer() as server: OpenAIBackend(server.url)`` (or ``WhisperCppBackend``)."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self._stopping = threading.Event()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.app = Starlette(routes=[
            Route("/v1/audio/transcriptions", self._openai, methods=["POST"]),
            Route("/v1/models", self._models),
            Route("/inference", self._whisper, methods=["POST"]),
            Route("/", self._page),
        ])
        config = uvicorn.Config(self.app, log_level="critical", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)

    @property
    def served(self) -> list[Served]:
        return self.behaviour.served

    @property
    def connections(self) -> int:
        """Distinct TCP connections the answered transcriptions came on: a keep-alive client makes one."""
        return len({answer.client_port for answer in self.served})

    def start(self) -> FakeTranscriptionServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake transcription server at {self.url} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeTranscriptionServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _page(self, request: Request) -> Response:
        return Response("<html><title>Whisper.cpp Server</title></html>", media_type="text/html")

    async def _models(self, request: Request) -> Response:
        ids = [*self.behaviour.speech_models, *self.behaviour.chat_models]
        return JSONResponse({"object": "list", "data": [{"id": i, "object": "model", "owned_by": "fake"} for i in ids]})

    async def _receive(self, request: Request) -> tuple[Served | None, Response | None]:
        """Read the form; an error answer for a missing or undecodable file, or a model that cannot transcribe."""
        received_at = time.monotonic()
        form = await request.form()
        upload = form.get("file")
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if not isinstance(upload, UploadFile):
            return None, JSONResponse({"error": {"message": "no file field"}}, status_code=400)
        model = fields.get("model")
        if request.url.path != "/inference" and model not in self.behaviour.speech_models:
            message = f"model '{model}' does not support audio transcription"
            return None, JSONResponse({"error": {"message": message}}, status_code=400)
        data = await upload.read()
        try:
            duration = await asyncio.to_thread(audio_seconds, data)
        except (av.FFmpegError, IndexError):
            return None, JSONResponse({"error": {"message": "failed to read the audio file"}}, status_code=400)
        port = request.client.port if request.client else 0
        served = Served(
            request.url.path, fields, upload.filename or "", len(data), duration, received_at, port,
            dict(request.headers),
        )
        self.behaviour.served.append(served)
        return served, None

    async def _sleep_until(self, deadline: float) -> None:
        """Sliced, so ``stop()`` never waits behind a long answer; the last 2 ms yield instead of sleeping,
        as epoll's whole-millisecond timeouts would make the answer up to 1 ms late."""
        while (left := deadline - time.monotonic()) > 0.002 and not self._stopping.is_set():
            await asyncio.sleep(min(left - 0.002, 0.05))
        while time.monotonic() < deadline and not self._stopping.is_set():
            await asyncio.sleep(0)

    async def _single(self, served: Served, body: dict[str, object]) -> Response:
        await self._sleep_until(served.received_at + self.behaviour.rtf * served.duration_s)
        served.last_text_at = time.monotonic()
        return JSONResponse(body)

    async def _openai(self, request: Request) -> Response:
        served, refusal = await self._receive(request)
        if served is None:
            assert refusal is not None
            return refusal
        text = self.behaviour.transcript
        if not (self.behaviour.stream and served.fields.get("stream") == "true"):
            return await self._single(served, {"text": text})
        return StreamingResponse(self._events(served, text), media_type="text/event-stream")

    async def _events(self, served: Served, text: str) -> AsyncIterator[bytes]:
        words = text.split(" ")
        end = served.received_at + self.behaviour.rtf * served.duration_s
        first = served.received_at + self.behaviour.first_word_s
        step = (end - first) / (len(words) - 1) if len(words) > 1 else 0.0
        request = self.behaviour.served.index(served)
        drops = self.behaviour.drop_request in (None, request)
        for index, word in enumerate(words):
            if drops and index == self.behaviour.drop_after:
                raise _Dropped
            await self._sleep_until(first + index * step)
            now = time.monotonic()
            served.first_word_at = served.first_word_at or now
            served.last_text_at = now
            delta = word if index == 0 else f" {word}"
            yield _sse({"type": "transcript.text.delta", "delta": delta})
        yield _sse({"type": "transcript.text.done", "text": text})

    async def _whisper(self, request: Request) -> Response:
        served, refusal = await self._receive(request)
        if served is None:
            assert refusal is not None
            return refusal
        text = self.behaviour.transcript
        body: dict[str, object] = {"text": text}
        if served.fields.get("response_format") == "verbose_json":
            body |= {
                "task": "transcribe", "language": served.fields.get("language", "en"), "duration": served.duration_s,
                "segments": [{"id": 0, "start": 0.0, "end": served.duration_s, "text": text}],
            }  # fmt: skip
        return await self._single(served, body)


def _sse(data: dict[str, object]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()
