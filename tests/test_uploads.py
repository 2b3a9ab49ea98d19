"""Uploads in the engine: a size limit applied as the bytes stream in, a type read from the content,
server-made names inside the data directory, and file fields that cannot reach outside it.

Every test writes real files into its own data directory (conftest points XDG_DATA_HOME at tmp_path).
The API's side, the multipart body, is in test_uploads_api.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError, UploadError
from llamaburn.storage.uploads import (
    Uploads,
    UploadTooLargeError,
    UploadTypeError,
    resolve_upload,
    uploads_dir,
)
from tests.upload_samples import FIELDS, HTML, SAMPLES, chunks_of, ebml, kept, png, wav


@pytest.fixture
def uploads(tmp_path: Path) -> Uploads:
    directory = uploads_dir()
    assert directory.is_relative_to(tmp_path)  # conftest's data directory, never the user's
    return Uploads(directory)


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
        ("video", ebml(b"mkv"), "an EBML file that is neither WebM nor Matroska"),
        ("video", b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom", "M4A audio"),
        ("video", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC image"),
        ("graphics3d", b'{"scenes": []}', "JSON without glTF's asset"),
        ("graphics3d", b"[" * 100_000 + b"]" * 100_000, "JSON nested past the stack"),
        ("graphics3d", HTML, "HTML"),
        ("graphics3d", b"v 0 0 0\n\x00\x01binary", "binary after a vertex"),
        ("graphics3d", b"solid cube\n facet normal 0 0 1\n<html>\n", "ASCII STL's opening, then HTML"),
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
    with pytest.raises(UploadTypeError, match=r"is not a WAV, MP3, FLAC, Ogg or M4A recording"):
        resolve_upload(stored_png, "audio")
    with pytest.raises(UploadTypeError):
        resolve_upload(f"{stored_png}.json", "image")  # its metadata is not an image


@pytest.mark.parametrize("kind", ["audio"])  # image, video, 3D: tests/test_image.py, test_video.py, test_graphics3d.py
async def test_each_file_modality_validates_its_file_field(uploads: Uploads, kind: str) -> None:
    modality = load_registry().modality(kind)
    field = FIELDS[kind]
    sample = next(content for k, content, _ in SAMPLES.values() if k == kind)
    upload = await uploads.receive(kind, "mine", chunks_of(sample))
    inputs = modality.parse_inputs({field: upload.upload_id})
    assert getattr(inputs, field) == str((uploads.directory / upload.upload_id).resolve())
    assert modality.available
    for bad in ("../../etc/passwd", "/etc/passwd"):
        with pytest.raises(ConfigError, match=f"^{field}: .*(not allowed|outside the uploads directory)"):
            modality.parse_inputs({field: bad})
