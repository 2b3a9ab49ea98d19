"""3D over the API, as a script drives it: upload the model, start the run with its upload_id, follow it over
SSE, read it back from history; and every bad model a 422 at ``model_path`` (or a 415 at upload), with
nothing stored and nothing sent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from llamaburn.service.runs import RunService
from llamaburn.storage.uploads import uploads_dir
from llamaburn.testing import DEFAULT_MODEL, Script
from llamaburn.testing.vision import VisionServer
from tests.harness.api import follow, start, stored, types
from tests.meshes import NO_FACES, UNREADABLE, exported, sphere
from tests.system import needs_debian_packages
from tests.upload_samples import png

pytestmark = needs_debian_packages("render")

PER_PICTURE_S = 0.05
CLOCK_MS = 50  # loopback, the JSON of the pictures, the fake decoding them, a machine shared with other builds
SIZE = 96


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=["A", " ball"], ttft_s=0.02)
    server = VisionServer(script, per_picture_s=PER_PICTURE_S, expected=[(SIZE, SIZE)] * 2)
    with server:  # (its __enter__ is typed as the base FakeServer's)
        yield server


async def upload(live: httpx.AsyncClient, name: str, content: bytes) -> httpx.Response:
    return await live.post("/api/uploads", params={"kind": "graphics3d"}, files={"file": (name, content)})


def body(server: VisionServer, **fields: object) -> dict[str, object]:
    return {"type": "graphics3d", "backend": "ollama", "url": server.url, "model_id": DEFAULT_MODEL,
            "iterations": 2, "warmup": 1, "views": 2, "render_size": SIZE, **fields}


async def test_a_3d_run_from_upload_to_history(live: httpx.AsyncClient, seeing: VisionServer) -> None:
    uploaded = await upload(live, "ball.stl", exported(sphere())["stl"])
    assert uploaded.status_code == 201 and uploaded.json()["media_type"] == "model/stl", uploaded.text
    upload_id = uploaded.json()["upload_id"]
    run_id = await start(live, body(seeing, model_path=upload_id))
    events = await follow(live, run_id)
    assert types(events)[0] == "warmup" and types(events)[-1] == "complete"
    completed = [data["metrics"] for event, data in events if event in ("warmup_complete", "iteration_complete")]
    assert len(completed) == 3
    for metrics in completed:
        assert metrics["render_ms"] >= metrics["render_front_ms"] + metrics["render_side_ms"] > 0
        assert metrics["image_processing_ms"] == pytest.approx(2 * PER_PICTURE_S * 1000, abs=CLOCK_MS)
        assert [(p["label"], p["width"], p["media_type"]) for p in metrics["pictures"]] == [
            ("front", SIZE, "image/png"), ("side", SIZE, "image/png")]
        assert all(p["thumbnail"].startswith("data:image/jpeg;base64,") for p in metrics["pictures"])
        assert metrics["faces"] == len(sphere().faces)
    assert "".join(data["text"] for event, data in events if event == "token") == "A ball" * 3
    record = await stored(live, run_id)
    assert record["status"] == "completed" and record["config"]["modality"] == "graphics3d"
    assert record["config"]["inputs"]["model_path"] == str((uploads_dir() / upload_id).resolve())
    assert record["summary"]["render_ms"]["mean"] > 0 and record["summary"]["render_front_ms"]["mean"] > 0
    assert "render_top_ms" not in record["summary"]  # two views asked for: the others are not made up
    assert all(len(seen) == 2 for seen in seeing.seen if seen) and len(seeing.seen) == 6


async def test_bad_models_are_a_422_at_model_path_and_nothing_is_stored(
    live: httpx.AsyncClient, seeing: VisionServer, service: RunService
) -> None:
    cases = []
    for content, message in [
        (NO_FACES["ply-point-cloud"], "the PLY model has no faces"),
        (UNREADABLE["gltf-external-buffer"], "the glTF file cannot be read as a 3D model"),
        (exported(sphere())["off"], "the OFF model has 1,280 faces, over the limit of 1,000 (max_faces)"),
    ]:
        uploaded = await upload(live, "model", content)
        assert uploaded.status_code == 201, uploaded.text
        cases.append(({"model_path": uploaded.json()["upload_id"], "max_faces": 1000}, message))
    picture = await live.post("/api/uploads", params={"kind": "image"}, files={"file": ("photo.png", png())})
    cases += [
        ({"model_path": picture.json()["upload_id"]}, "is not a glTF, GLB, OBJ, STL, PLY or OFF model"),
        ({"model_path": "../../etc/passwd"}, "'..' is not allowed"),
        ({"model_path": "/etc/passwd"}, "outside the uploads directory"),
    ]
    for fields, message in cases:
        response = await live.post("/api/benchmark", json=body(seeing, **fields))
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "model_path"] and message in problem["msg"], problem
    wrong = await upload(live, "model.glb", b"<!doctype html><html></html>")
    assert wrong.status_code == 415 and "is not a glTF, GLB, OBJ, STL, PLY or OFF model" in wrong.text
    assert service.store.count_runs() == 0 and [r for r in seeing.requests if r.path == "/api/chat"] == []


async def test_a_model_that_cannot_see_is_a_422_at_model_id(live: httpx.AsyncClient, service: RunService) -> None:
    blind = VisionServer(Script(), models=["llama3.1:8b"], vision=False)
    with blind:
        upload_id = (await upload(live, "ball.glb", exported(sphere())["glb"])).json()["upload_id"]
        response = await live.post("/api/benchmark", json=body(blind, model_path=upload_id, model_id="llama3.1:8b"))
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "model_id"] and "has no vision capability" in problem["msg"]
        assert [r for r in blind.requests if r.path == "/api/chat"] == []
    assert service.store.count_runs() == 0
