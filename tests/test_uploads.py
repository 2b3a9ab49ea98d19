"""Uploads for the file-based modalities: a size limit applied as the bytes stream in, a type read from the
content, server-made names inside the data directory, and file fields that cannot reach outside it.

Every test writes real files into its own data directory (conftest points XDG_DATA_HOME at tmp_path).
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from llamaburn.api import router
from llamaburn.api.auth import TokenAuth
from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError, UploadError
from llamaburn.storage.uploads import (
    KINDS,
    Uploads,
    UploadTooLargeError,
    UploadTypeError,
    resolve_upload,
    uploads_dir,
)

# Real files, small: each is what its format's own tools write, trimmed to the fewest valid bytes.


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))


def riff(form: bytes, body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 80)
    return buffer.getvalue()


def ebml(doctype: bytes) -> bytes:
    header = b"\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header)]) + header


def glb() -> bytes:
    document = json.dumps({"asset": {"version": "2.0"}}).encode().ljust(28)
    chunk = struct.pack("<I", len(document)) + b"JSON" + document
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunk)) + chunk


SAMPLES: dict[str, tuple[str, bytes, str]] = {  # name: (kind, content, media type)
    "png": ("image", png(), "image/png"),
    "jpeg": ("image", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9", "image/jpeg"),
    "webp": ("image", riff(b"WEBP", b"VP8L\x0a\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88"), "image/webp"),
    "gif": ("image", b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x00;", "image/gif"),
    "wav": ("audio", wav(), "audio/wav"),
    "mp3": ("audio", b"\xff\xfb\x90\x64" + bytes(413), "audio/mpeg"),  # one MPEG-1 layer III frame, 128 kb/s
    "mp3-id3": ("audio", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(413), "audio/mpeg"),
    "flac": ("audio", b"fLaC\x80\x00\x00\x22" + bytes(34), "audio/flac"),
    "ogg": ("audio", b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x01" + bytes(9), "audio/ogg"),
    "mp4": ("video", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08mdat", "video/mp4"),
    "webm": ("video", ebml(b"webm"), "video/webm"),
    "glb": ("graphics3d", glb(), "model/gltf-binary"),
    "gltf": ("graphics3d", json.dumps({"scenes": [], "asset": {"version": "2.0"}}).encode(), "model/gltf+json"),
    "obj": ("graphics3d", b"# a triangle\no tri\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//1 3//1\n", "model/obj"),
}
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
FIELDS = {"image": "image_path", "audio": "audio_path", "video": "video_path", "graphics3d": "model_path"}


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def uploads(tmp_path: Path) -> Uploads:
    directory = uploads_dir()
    assert directory.is_relative_to(tmp_path)  # conftest's data directory, never the user's
    return Uploads(directory)


def kept(uploads: Uploads) -> list[str]:
    """Every file in the uploads directory, hidden ones (an upload in progress) included."""
    return sorted(path.name for path in uploads.directory.iterdir()) if uploads.directory.exists() else []


# The engine: storing


@pytest.mark.parametrize("sample", SAMPLES)
async def test_each_accepted_format_is_stored_under_a_server_made_name(uploads: Uploads, sample: str) -> None:
    kind, content, media_type = SAMPLES[sample]
    upload = await uploads.receive(kind, f"holiday.{sample}", chunks_of(content))
    assert (upload.kind, upload.media_type, upload.size) == (kind, media_type, len(content))
    assert (uploads.directory / upload.upload_id).read_bytes() == content
    assert "holiday" not in upload.upload_id
    metadata = json.loads((uploads.directory / f"{upload.upload_id}.json").read_text())
    assert metadata["original_name"] == f"holiday.{sample}" and metadata["media_type"] == media_type
    assert kept(uploads) == sorted([upload.upload_id, f"{upload.upload_id}.json"])


async def test_the_clients_name_is_never_a_path(uploads: Uploads, tmp_path: Path) -> None:
    upload = await uploads.receive("image", "../../../evil.png", chunks_of(png()))
    assert upload.upload_id.endswith(".png") and "/" not in upload.upload_id
    assert not list(tmp_path.rglob("evil*"))
    assert upload.original_name == "../../../evil.png"  # kept, as metadata only


async def test_an_endless_upload_is_refused_at_the_limit_without_reading_on(tmp_path: Path) -> None:
    uploads = Uploads(uploads_dir(), max_bytes=10_000)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield png()
        while True:
            pulled += 1
            yield bytes(1000)

    with pytest.raises(UploadTooLargeError, match="larger than the 10,000-byte limit"):
        await uploads.receive("image", "big.png", endless())
    assert pulled == 10  # the chunk that crossed the limit is the last one read
    assert kept(uploads) == []


async def test_the_limit_is_inclusive_and_named_in_mebibytes(tmp_path: Path) -> None:
    content = png()
    exact = Uploads(uploads_dir(), max_bytes=len(content))
    assert (await exact.receive("image", "a.png", chunks_of(content))).size == len(content)
    with pytest.raises(UploadTooLargeError, match=r"^the upload is larger than the 1 MiB limit$"):
        await Uploads(uploads_dir(), max_bytes=1024 * 1024).receive("image", "b.png", chunks_of(bytes(2**20 + 1)))
    assert Uploads().max_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("kind", "content", "why"),
    [
        ("image", HTML, "HTML renamed .png"),
        ("image", b"", "empty"),
        ("image", wav(), "a recording is not an image"),
        ("audio", png(), "a picture is not a recording"),
        ("audio", b"OggS\x00\x02" + bytes(20) + b"\x01\x2a\x80theora" + bytes(9), "Ogg video"),
        ("video", ebml(b"matroska"), "Matroska is not WebM"),
        ("video", b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom", "M4A audio"),
        ("video", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC image"),
        ("graphics3d", b'{"scenes": []}', "JSON without glTF's asset"),
        ("graphics3d", b"[" * 100_000 + b"]" * 100_000, "JSON nested past the stack"),
        ("graphics3d", HTML, "HTML"),
        ("graphics3d", b"v 0 0 0\n\x00\x01binary", "binary after a vertex"),
        ("graphics3d", b"solid cube\n facet normal 0 0 1\n", "ASCII STL"),
    ],
)
async def test_content_of_the_wrong_type_is_refused(uploads: Uploads, kind: str, content: bytes, why: str) -> None:
    with pytest.raises(UploadTypeError) as refused:
        await uploads.receive(kind, "trick.png", chunks_of(content))
    message = str(refused.value)
    assert "\n" not in message and ("is not" in message or "is empty" in message), why
    assert kept(uploads) == [], why


async def test_the_type_error_names_what_is_accepted(uploads: Uploads) -> None:
    with pytest.raises(UploadTypeError, match=r"^the upload is not a PNG, JPEG, WebP or GIF image \(its content"):
        await uploads.receive("image", "page.png", chunks_of(HTML))


async def test_a_dropped_connection_leaves_nothing(uploads: Uploads) -> None:
    async def dropped() -> AsyncIterator[bytes]:
        yield png()
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await uploads.receive("image", "a.png", dropped())
    assert kept(uploads) == []


async def test_an_unknown_kind_is_refused(uploads: Uploads) -> None:
    with pytest.raises(UploadError, match="unknown upload kind 'text': use one of image, audio, video, graphics3d"):
        await uploads.receive("text", "a.txt", chunks_of(b"hello"))
    assert isinstance(UploadError("x"), ConfigError)


# The engine: file fields resolve inside the uploads directory only


@pytest.fixture
async def stored_png(uploads: Uploads) -> str:
    return (await uploads.receive("image", "cat.png", chunks_of(png()))).upload_id


async def test_an_upload_id_resolves_to_its_file(uploads: Uploads, stored_png: str) -> None:
    real = resolve_upload(stored_png, "image")
    assert real == (uploads.directory / stored_png).resolve()
    assert resolve_upload(str(real), "image") == real  # an absolute path inside the directory is fine


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("../../etc/passwd", "'..' is not allowed"),
        ("../uploads/x.png", "'..' is not allowed"),
        ("/etc/passwd", "outside the uploads directory"),
        ("", "no file given"),
        ("nope.png", "no uploaded file 'nope.png'"),
        ("a\x00.png", "no file given"),
        ("x" * 5000, "cannot read|no uploaded file"),
    ],
)
def test_paths_that_leave_the_uploads_directory_are_refused(uploads: Uploads, value: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        resolve_upload(value, "image")


async def test_a_symlink_out_of_the_uploads_directory_is_refused(
    uploads: Uploads, stored_png: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(png())  # a valid picture, so only the place is wrong
    (uploads.directory / "escape.png").symlink_to(outside)
    (uploads.directory / "passwd").symlink_to("/etc/passwd")
    (uploads.directory / "inside.png").symlink_to(uploads.directory / stored_png)
    for name in ("escape.png", "passwd"):
        with pytest.raises(UploadError, match="outside the uploads directory"):
            resolve_upload(name, "image")
    assert resolve_upload("inside.png", "image") == (uploads.directory / stored_png).resolve()


async def test_a_file_of_another_kind_is_refused(uploads: Uploads, stored_png: str) -> None:
    with pytest.raises(UploadTypeError, match=r"is not a WAV, MP3, FLAC or Ogg recording"):
        resolve_upload(stored_png, "audio")
    with pytest.raises(UploadTypeError):
        resolve_upload(f"{stored_png}.json", "image")  # its metadata is not an image


@pytest.mark.parametrize("kind", KINDS)
async def test_each_file_modality_validates_its_file_field(uploads: Uploads, kind: str) -> None:
    modality = load_registry().modality(kind)
    field = FIELDS[kind]
    sample = next(content for k, content, _ in SAMPLES.values() if k == kind)
    upload = await uploads.receive(kind, "mine", chunks_of(sample))
    inputs = modality.parse_inputs({field: upload.upload_id})
    assert getattr(inputs, field) == str((uploads.directory / upload.upload_id).resolve())
    assert modality.available is False  # still coming soon: only its input is checked
    for bad in ("../../etc/passwd", "/etc/passwd"):
        with pytest.raises(ConfigError, match=f"^{field}: .*(not allowed|outside the uploads directory)"):
            modality.parse_inputs({field: bad})


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
