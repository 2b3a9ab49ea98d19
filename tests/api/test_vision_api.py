"""Image and Video over the API, as a script drives them: upload the file, start the run with its upload_id,
follow it over SSE, read it back from history; and every bad input a 422 at its field, with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llamaburn.service.runs import RunService
from llamaburn.storage.uploads import uploads_dir
from llamaburn.testing import DEFAULT_MODEL, Script
from llamaburn.testing.vision import VisionServer
from tests.harness.api import follow, start, stored, types
from tests.vision_media import CLIP_SIZE, clip, encoded, frameless, painted

PER_PICTURE_S = 0.1
CLOCK_MS = 25  # loopback, the client's JSON of the pictures, the fake's decoding, a busy machine
SOURCE = painted(80, 60)


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    with VisionServer(Script(tokens=["A", " picture"], ttft_s=0.02), per_picture_s=PER_PICTURE_S) as server:
        yield server


async def upload(live: httpx.AsyncClient, kind: str, name: str, content: bytes) -> str:
    response = await live.post("/api/uploads", params={"kind": kind}, files={"file": (name, content)})
    assert response.status_code == 201, response.text
    return str(response.json()["upload_id"])


def body(server: VisionServer, **fields: object) -> dict[str, object]:
    return {"backend": "ollama", "url": server.url, "model_id": DEFAULT_MODEL, "iterations": 2, "warmup": 1,
            **fields}


async def test_an_image_run_from_upload_to_history(live: httpx.AsyncClient, seeing: VisionServer) -> None:
    seeing.expected = [SOURCE]
    upload_id = await upload(live, "image", "photo.png", encoded(SOURCE, "PNG"))
    run_id = await start(live, body(seeing, type="image", image_path=upload_id, prompt="What is it?"))
    events = await follow(live, run_id)
    assert types(events)[-1] == "complete"
    completed = [data["metrics"] for event, data in events if event in ("warmup_complete", "iteration_complete")]
    assert len(completed) == 3
    for metrics in completed:
        assert metrics["image_processing_ms"] == pytest.approx(PER_PICTURE_S * 1000, abs=CLOCK_MS)
        [sent] = metrics["pictures"]
        assert (sent["width"], sent["height"], sent["media_type"]) == (80, 60, "image/png")
        assert sent["thumbnail"].startswith("data:image/jpeg;base64,")
    assert "".join(data["text"] for event, data in events if event == "token") == "A picture" * 3
    record = await stored(live, run_id)
    assert record["status"] == "completed" and record["config"]["modality"] == "image"
    assert record["config"]["inputs"]["image_path"] == str((uploads_dir() / upload_id).resolve())
    assert record["summary"]["image_processing_ms"]["mean"] == pytest.approx(PER_PICTURE_S * 1000, abs=CLOCK_MS)


async def test_a_video_run_from_upload_to_history(
    live: httpx.AsyncClient, seeing: VisionServer, tmp_path: Path
) -> None:
    seeing.expected = [CLIP_SIZE] * 2
    upload_id = await upload(live, "video", "clip.webm", clip(tmp_path / "clip.webm", seconds=2.0).read_bytes())
    run_id = await start(live, body(seeing, type="video", video_path=upload_id, warmup=0))
    events = await follow(live, run_id)
    metrics = [data["metrics"] for event, data in events if event == "iteration_complete"]
    assert [m["frames_sent"] for m in metrics] == [2, 2]
    for iteration in metrics:
        # the frames' 0.2 s against the control's TTFT; the clocks in the message, should it ever be unknown
        clocks = {key: iteration.get(key) for key in ("ttft_ms", "control_ttft_ms", "image_processing_ms")}
        assert iteration["frame_rate"] == pytest.approx(2 / (2 * PER_PICTURE_S), rel=0.1), clocks
    record = await stored(live, run_id)
    assert record["status"] == "completed" and record["summary"]["frame_rate"]["mean"] > 0


async def test_bad_vision_inputs_are_a_422_at_their_field_and_nothing_is_stored(
    live: httpx.AsyncClient, seeing: VisionServer, service: RunService, tmp_path: Path
) -> None:
    good = clip(tmp_path / "good.mp4")
    outside = tmp_path / "outside.png"
    outside.write_bytes(encoded(SOURCE, "PNG"))
    corrupt = await upload(live, "image", "corrupt.png", encoded(SOURCE, "PNG")[:80])
    frames_none = await upload(live, "video", "none.mp4", frameless(good, tmp_path / "none.mp4").read_bytes())
    cases = [
        ({"type": "image", "image_path": corrupt}, "image_path", "the image cannot be decoded"),
        ({"type": "image", "image_path": str(outside)}, "image_path", "outside the uploads directory"),
        ({"type": "image", "image_path": "../../etc/passwd"}, "image_path", "'..' is not allowed"),
        ({"type": "video", "video_path": frames_none}, "video_path", "the video has no frames to sample"),
        ({"type": "video", "video_path": corrupt}, "video_path", "is not an MP4, WebM, MKV or MOV video"),
    ]
    for fields, where, message in cases:
        response = await live.post("/api/benchmark", json=body(seeing, **fields))
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", where] and message in problem["msg"], problem
    wrong = await live.post("/api/uploads", params={"kind": "image"}, files={"file": ("x.png", b"<html></html>")})
    assert wrong.status_code == 415
    assert service.store.count_runs() == 0 and [r for r in seeing.requests if r.path == "/api/chat"] == []


async def test_a_model_that_cannot_see_is_a_422_at_model_id(live: httpx.AsyncClient, service: RunService) -> None:
    with VisionServer(Script(), models=["llama3.1:8b"], vision=False) as blind:
        upload_id = await upload(live, "image", "photo.png", encoded(SOURCE, "PNG"))
        fields = {"type": "image", "image_path": upload_id, "model_id": "llama3.1:8b"}
        response = await live.post("/api/benchmark", json=body(blind, **fields))
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "model_id"]
        assert problem["msg"] == (
            "llama3.1:8b has no vision capability: pick a vision model such as gemma3, llava or qwen2.5vl"
        )
        assert [r for r in blind.requests if r.path == "/api/chat"] == []
    assert service.store.count_runs() == 0


@pytest.mark.parametrize(("suffix", "media_type"), [
    (".mp4", "video/mp4"), (".webm", "video/webm"), (".mkv", "video/x-matroska"), (".mov", "video/quicktime"),
])
async def test_each_video_container_uploads_by_its_content(
    live: httpx.AsyncClient, tmp_path: Path, suffix: str, media_type: str
) -> None:
    content = clip(tmp_path / f"clip{suffix}", seconds=1.0).read_bytes()
    response = await live.post("/api/uploads", params={"kind": "video"}, files={"file": ("clip.bin", content)})
    assert response.status_code == 201, response.text
    assert response.json()["media_type"] == media_type and response.json()["upload_id"].endswith(suffix)
