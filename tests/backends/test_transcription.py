"""The transcription protocols on the wire: OpenAI-compatible ``/v1/audio/transcriptions`` streamed and
single, whisper.cpp's ``/inference``, one keep-alive connection per backend, the API key, and each server
fault as one line naming the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llamaburn.backends.openai import OpenAIBackend
from llamaburn.backends.transcription import (
    TranscriptionRequest,
    TranscriptPiece,
    check_transcription,
    silent_wav,
)
from llamaburn.backends.whisper_cpp import MODEL_ID, WhisperCppBackend
from llamaburn.errors import BackendError, CapabilityError
from llamaburn.testing.transcription import CHAT_MODEL, SPEECH_MODEL, Behaviour, FakeTranscriptionServer

TEXT = "one two three four"


@pytest.fixture
def speech() -> Iterator[FakeTranscriptionServer]:
    with FakeTranscriptionServer(Behaviour(transcript=TEXT, rtf=0.1, first_word_s=0.01)) as server:
        yield server


def request(model: str = SPEECH_MODEL, **options: object) -> TranscriptionRequest:
    return TranscriptionRequest(
        model=model, audio=silent_wav(1.0), filename="a.wav", media_type="audio/wav", **options  # type: ignore[arg-type]
    )


async def pieces(backend: OpenAIBackend | WhisperCppBackend, req: TranscriptionRequest) -> list[TranscriptPiece]:
    return [piece async for piece in backend.transcribe(req)]


async def test_openai_streams_deltas_then_the_whole_text(speech: FakeTranscriptionServer) -> None:
    async with OpenAIBackend(speech.url, api_key="sk-test") as backend:
        got = await pieces(backend, request(language="en", temperature=0.2))
    assert [p.delta for p in got[:-1]] == ["one", " two", " three", " four"]
    assert got[-1].text == TEXT and {p.mode for p in got} == {"stream"}
    fields = speech.served[0].fields
    assert fields == {"model": SPEECH_MODEL, "response_format": "json", "stream": "true", "language": "en",
                      "temperature": "0.2"}
    assert speech.served[0].filename == "a.wav" and speech.served[0].duration_s == pytest.approx(1.0)
    assert speech.served[0].headers["authorization"] == "Bearer sk-test"


async def test_openai_takes_a_single_answer_from_a_server_that_does_not_stream(
    speech: FakeTranscriptionServer,
) -> None:
    speech.behaviour.stream = False
    async with OpenAIBackend(speech.url) as backend:
        got = await pieces(backend, request())
    assert got == [TranscriptPiece(mode="single", text=TEXT)]


async def test_whisper_cpp_sends_verbose_json_and_counts_segments(speech: FakeTranscriptionServer) -> None:
    async with WhisperCppBackend(speech.url) as backend:
        assert [m.id for m in await backend.models()] == [MODEL_ID]
        got = await pieces(backend, request(MODEL_ID, language="de"))
    assert got == [TranscriptPiece(mode="single", text=TEXT, segments=1)]
    assert speech.served[0].path == "/inference"
    assert speech.served[0].fields == {"response_format": "verbose_json", "language": "de"}


async def test_one_keep_alive_connection_for_many_transcriptions(speech: FakeTranscriptionServer) -> None:
    async with OpenAIBackend(speech.url) as backend:
        for _ in range(4):
            await pieces(backend, request())
    assert len(speech.served) == 4 and speech.connections == 1


async def test_a_chat_model_is_refused_as_unable_to_transcribe(speech: FakeTranscriptionServer) -> None:
    async with OpenAIBackend(speech.url) as backend:
        with pytest.raises(CapabilityError, match=f"model '{CHAT_MODEL}' on OpenAI-compatible server at "
                                                  f"{speech.url} cannot transcribe"):
            await check_transcription(backend, CHAT_MODEL)
        await check_transcription(backend, SPEECH_MODEL)  # a speech model passes


async def test_a_drop_mid_stream_is_one_line_naming_the_server(speech: FakeTranscriptionServer) -> None:
    speech.behaviour.drop_after = 2
    async with OpenAIBackend(speech.url) as backend:
        with pytest.raises(BackendError, match=f"at {speech.url} closed the connection mid-stream"):
            await pieces(backend, request())


async def test_an_unreachable_whisper_server_says_how_to_start_it() -> None:
    async with WhisperCppBackend("http://127.0.0.1:9") as backend:
        with pytest.raises(BackendError, match=r"is not reachable .*whisper-server -m"):
            await backend.models()
