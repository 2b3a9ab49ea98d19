"""POST /api/uploads: the multipart body is parsed as it streams in, refused at the size limit, checked by
content, stored under a server-made name, and answered with one-line errors.

Every test writes real files into its own data directory (conftest points XDG_DATA_HOME at tmp_path).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from llamaburn.api import router
from llamaburn.api.auth import TokenAuth
from llamaburn.storage.uploads import Uploads, resolve_upload, uploads_dir
from tests.upload_samples import HTML, SAMPLES, chunks_of, kept, png


@pytest.fixture
def uploads(tmp_path: Path) -> Uploads:
    directory = uploads_dir()
    assert directory.is_relative_to(tmp_path)  # conftest's data directory, never the user's
    return Uploads(directory)


@pytest.fixture
async def stored_png(uploads: Uploads) -> str:
    return (await uploads.receive("image", "cat.png", chunks_of(png()))).upload_id


# The API


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://llamaburn.test") as c:
        yield c


def file_field(content: bytes, name: str = "upload.bin", media_type: str = "application/octet-stream") -> Any:
    return {"file": (name, content, media_type)}


@pytest.mark.parametrize("sample", ["png", "wav", "webm", "glb"])
async def test_api_upload_of_each_kind(client: httpx.AsyncClient, uploads: Uploads, sample: str) -> None:
    kind, content, media_type = SAMPLES[sample]
    response = await client.post("/api/uploads", params={"kind": kind}, files=file_field(content, f"x.{sample}"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"upload_id", "kind", "size", "media_type"}
    assert (body["kind"], body["size"], body["media_type"]) == (kind, len(content), media_type)
    assert (uploads.directory / body["upload_id"]).read_bytes() == content
    assert resolve_upload(body["upload_id"], kind).is_file()


async def test_api_oversize_is_413(app: FastAPI, client: httpx.AsyncClient, uploads: Uploads) -> None:
    app.state.uploads = Uploads(uploads.directory, max_bytes=1000)
    response = await client.post("/api/uploads", params={"kind": "image"}, files=file_field(png() + bytes(2000)))
    assert response.status_code == 413
    assert response.json() == {"detail": "the upload is larger than the 1,000-byte limit"}
    assert kept(uploads) == []


async def test_api_refuses_an_endless_chunked_body_at_the_limit(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.uploads = Uploads(uploads_dir(), max_bytes=100_000)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + png()
        while True:
            sent += 1
            yield bytes(10_000)

    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post("/api/uploads?kind=image", content=endless(), headers=headers)
    assert response.status_code == 413
    assert sent <= 10


async def test_api_refuses_a_declared_oversize_body_before_reading_it(app: FastAPI) -> None:
    """A Content-Length past the limit is answered at once: the body's first byte is never asked for."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/uploads", "raw_path": b"/api/uploads", "query_string": b"kind=video", "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b"), (b"content-length", b"999999999999")],
        "client": ("127.0.0.1", 1), "server": ("llamaburn.test", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    assert messages[0]["status"] == 413
    assert json.loads(messages[1]["body"]) == {"detail": "the upload is larger than the 64 MiB limit"}


async def test_api_wrong_type_is_415(client: httpx.AsyncClient, uploads: Uploads) -> None:
    response = await client.post(
        "/api/uploads", params={"kind": "image"}, files=file_field(HTML, "cat.png", "image/png")
    )
    assert response.status_code == 415
    assert response.json()["detail"].startswith("the upload is not a PNG, JPEG, WebP or GIF image")
    assert kept(uploads) == []


@pytest.mark.parametrize(
    ("params", "request_kwargs", "loc"),
    [
        ({}, {"files": file_field(png())}, ["query", "kind"]),
        ({"kind": "text"}, {"files": file_field(png())}, ["query", "kind"]),
        ({"kind": "image"}, {"files": {"other": ("a.png", png())}}, ["body", "file"]),
        ({"kind": "image"}, {"data": {"file": "not a file"}}, ["body", "file"]),
        ({"kind": "image"}, {"json": {"file": "x.png"}}, ["body", "file"]),
        ({"kind": "image"}, {}, ["body", "file"]),
    ],
)
async def test_api_missing_file_or_kind_is_422(
    client: httpx.AsyncClient, uploads: Uploads, params: dict[str, str], request_kwargs: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post("/api/uploads", params=params, **request_kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    assert kept(uploads) == []


async def test_api_malformed_multipart_is_400(client: httpx.AsyncClient, uploads: Uploads) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + png()  # never closed
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post("/api/uploads?kind=image", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": "the multipart body ended inside the file"}
    assert kept(uploads) == []


async def test_api_stores_under_its_own_name_whatever_the_client_calls_the_file(
    client: httpx.AsyncClient, uploads: Uploads, tmp_path: Path
) -> None:
    for name in ("../../../../tmp/evil.png", "/etc/cron.d/evil.png", "..\\..\\evil.png", "evil\x00.png"):
        response = await client.post("/api/uploads", params={"kind": "image"}, files=file_field(png(), name))
        assert response.status_code == 201, name
        assert response.json()["upload_id"] in kept(uploads)
    assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/evil.png").exists()


def test_no_endpoint_reads_or_lists_uploads() -> None:
    routes = [(route.path, sorted(route.methods)) for route in router.routes if isinstance(route, APIRoute)]
    assert [methods for path, methods in routes if "upload" in path] == [["POST"]]


async def test_api_get_on_uploads_finds_nothing(client: httpx.AsyncClient, stored_png: str) -> None:
    assert (await client.get("/api/uploads")).status_code == 405
    assert (await client.get(f"/api/uploads/{stored_png}")).status_code == 404


@pytest.fixture
def lan(app: FastAPI) -> Iterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=TokenAuth(app, "s3cret"))
    yield httpx.AsyncClient(transport=transport, base_url="http://llamaburn.test")


async def test_api_upload_needs_the_token_in_lan_mode(lan: httpx.AsyncClient, uploads: Uploads) -> None:
    async with lan:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await lan.post("/api/uploads?kind=image", files=file_field(png()), headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
        assert kept(uploads) == []
        response = await lan.post(
            "/api/uploads?kind=image", files=file_field(png()), headers={"Authorization": "Bearer s3cret"}
        )
        assert response.status_code == 201
