"""Audio through the REST API: upload a real recording, POST /api/benchmark with its upload_id and a
reference, follow the SSE stream (the transcript arrives as token events), and read the run back."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llamaburn.testing.transcription import SPEECH_MODEL, Behaviour, FakeTranscriptionServer
from tests.audio_samples import HEARD, HEARD_ERRORS, SENTENCE, recording
from tests.harness.api import follow, start, stored
from tests.system import needs_debian_packages

pytestmark = needs_debian_packages("audio")


@pytest.fixture
def speech() -> Iterator[FakeTranscriptionServer]:
    with FakeTranscriptionServer(Behaviour(transcript=HEARD)) as server:
        yield server


async def upload(client: httpx.AsyncClient, path: Path) -> str:
    response = await client.post(
        "/api/uploads", params={"kind": "audio"}, files={"file": (path.name, path.read_bytes(), "audio/x")}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["upload_id"])


async def test_api_upload_run_and_stream(
    client: httpx.AsyncClient, speech: FakeTranscriptionServer, tmp_path: Path
) -> None:
    upload_id = await upload(client, recording(tmp_path, "m4a"))
    assert upload_id.endswith(".m4a")
    body = {"type": "audio", "backend": "openai", "url": speech.url, "model_id": SPEECH_MODEL,
            "audio_path": upload_id, "reference_text": SENTENCE, "iterations": 2, "warmup": 0}
    run_id = await start(client, body)
    events = await follow(client, run_id)
    assert events[-1][0] == "complete", events[-1]
    tokens = [data["text"] for name, data in events if name == "token"]
    assert "".join(tokens) == HEARD * 2 and len(tokens) == 2 * len(HEARD.split())  # streamed, word by word
    record = await stored(client, run_id)
    metrics = [iteration["metrics"] for iteration in record["iterations"]]
    assert [m["transcription_mode"] for m in metrics] == ["stream", "stream"]
    assert metrics[0]["media_type"] == "audio/mp4"
    assert record["summary"]["wer"]["mean"] == pytest.approx(HEARD_ERRORS / 9 * 100)
    assert speech.behaviour.rtf <= record["summary"]["rtf"]["mean"] < speech.behaviour.rtf + 0.1


async def test_api_refuses_zero_length_audio_and_stores_nothing(
    client: httpx.AsyncClient, speech: FakeTranscriptionServer, tmp_path: Path
) -> None:
    path = tmp_path / "empty.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    upload_id = await upload(client, path)
    response = await client.post("/api/benchmark", json={
        "type": "audio", "backend": "openai", "url": speech.url, "model_id": SPEECH_MODEL, "audio_path": upload_id,
    })
    assert response.status_code == 422, response.text
    assert "real-time factor is undefined" in response.text and "audio_path" in response.text
    assert speech.served == []
    assert (await client.get("/api/history")).json()["runs"] == []
