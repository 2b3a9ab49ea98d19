"""Files uploaded for the file-based modalities (image, audio, video, 3D), kept in ``<data dir>/uploads``.

An upload is trusted for nothing it says about itself: its bytes are counted as they stream in and
refused past the size limit, its type is read from its content (magic bytes), never from its name or
``Content-Type``, and it is stored under a name the server makes up. The client's file name is kept only
as metadata. A modality's file field (``image_path``...) goes through ``resolve_upload``, so no input can
make LlamaBurn read a file outside the uploads directory, whether by ``..``, an absolute path or a symlink.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from llamaburn.engine.modality import LOCAL_FILES
from llamaburn.errors import UploadError
from llamaburn.storage.data_dir import data_dir

Kind = Literal["image", "audio", "video", "graphics3d"]
KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
SNIFF_BYTES = 64 * 1024  # enough for every magic number, and for OBJ's first statements
MAX_NAME_CHARS = 255  # the client's file name, as metadata


class UploadTooLargeError(UploadError):
    """The upload passed the size limit; it was refused before the rest of it was read."""


class UploadTypeError(UploadError):
    """The upload's content is none of the formats its kind accepts."""


@dataclass(frozen=True, slots=True)
class Format:
    """A file format a kind accepts; ``matches`` reads the file's first bytes, or the file itself."""

    media_type: str
    extension: str
    matches: Callable[[bytes, Path], bool]


@dataclass(frozen=True, slots=True)
class Upload:
    """A stored upload. ``upload_id`` is its file name in the uploads directory, and what a file field takes."""

    upload_id: str
    kind: Kind
    media_type: str
    size: int
    original_name: str
    created_at: str


def _riff(form: bytes) -> Callable[[bytes, Path], bool]:
    return lambda head, _: head[:4] == b"RIFF" and head[8:12] == form


def _mp3(head: bytes, _: Path) -> bool:
    """An ID3 tag, or an MPEG layer III frame header with a valid version, bitrate and sample rate."""
    if head.startswith(b"ID3"):
        return True
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and sample_rate != 3


def _ogg_audio(head: bytes, _: Path) -> bool:
    """An Ogg stream whose first packet is an audio codec's (Ogg also carries video)."""
    return head.startswith(b"OggS") and any(codec in head[:128] for codec in (b"OpusHead", b"\x01vorbis", b"\x7fFLAC"))


MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash", b"mmp4"}


def _mp4(head: bytes, _: Path) -> bool:
    """An ISO media file whose major brand is an MP4 video's (HEIC, AVIF and M4A share the ``ftyp`` box)."""
    return head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS


M4A_BRANDS = {b"M4A ", b"M4B "}


def _m4a(head: bytes, _: Path) -> bool:
    """An ISO media file whose major brand is an MP4 audio file's (AAC or ALAC in ``.m4a``)."""
    return head[4:8] == b"ftyp" and head[8:12] in M4A_BRANDS


def _webm(head: bytes, _: Path) -> bool:
    """An EBML header whose DocType is ``webm`` (Matroska files say ``matroska``)."""
    return head.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82\x84webm" in head[:64]


def _matroska(head: bytes, _: Path) -> bool:
    """An EBML header whose DocType is ``matroska`` (MKV)."""
    return head.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82\x88matroska" in head[:64]


def _mov(head: bytes, _: Path) -> bool:
    """A QuickTime movie: an ``ftyp`` box of brand ``qt  ``, or (older files) a first atom QuickTime uses."""
    return (head[4:8] == b"ftyp" and head[8:12] == b"qt  ") or head[4:8] in (b"moov", b"mdat", b"wide", b"free")


def _glb(head: bytes, _: Path) -> bool:
    return head[:4] == b"glTF" and int.from_bytes(head[4:8], "little") == 2


def _gltf(head: bytes, path: Path) -> bool:
    """A JSON object with an ``asset.version``. The whole file is parsed; the size limit bounds it."""
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return False
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, RecursionError):  # RecursionError: nesting deep enough to exhaust the stack
        return False
    return isinstance(document, dict) and isinstance(document.get("asset"), dict) and "version" in document["asset"]


OBJ_STATEMENTS = {
    "v", "vt", "vn", "vp", "f", "l", "p", "o", "g", "s", "mg", "mtllib", "usemtl", "usemap", "maplib",
    "cstype", "deg", "bmat", "step", "curv", "curv2", "surf", "parm", "trim", "hole", "scrv", "sp", "end",
    "con", "lod", "shadow_obj", "trace_obj", "ctech", "stech", "bevel", "c_interp", "d_interp",
}  # fmt: skip


def _text_statements(head: bytes) -> list[list[str]] | None:
    """The words of each non-blank, non-comment line of a text format's first ``SNIFF_BYTES``; ``None`` for
    bytes that are not UTF-8 text (a NUL, or an invalid sequence)."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head)  # not final: the window may cut a character
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    lines = text.splitlines()
    if len(head) == SNIFF_BYTES:
        lines = lines[:-1]  # the window may cut the last line
    return [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _obj(head: bytes, _: Path) -> bool:
    """Text whose statements (in the first ``SNIFF_BYTES``) are all Wavefront OBJ's, with a vertex among them."""
    statements = _text_statements(head)
    words = [statement[0] for statement in statements or ()]
    return "v" in words and all(word in OBJ_STATEMENTS for word in words)


STL_TRIANGLE_BYTES = 50  # a binary STL's triangle: normal and three vertices (12 float32) and a uint16
STL_STATEMENTS = {"solid", "facet", "outer", "vertex", "endloop", "endfacet", "endsolid"}


def _stl(head: bytes, path: Path) -> bool:
    """A binary STL (an 80-byte header, then a triangle count that the file's size matches exactly) or an
    ASCII one (``solid``, then only STL's statements, with a facet among them). Binary comes first: some
    exporters start a binary file's header with ``solid`` too."""
    if len(head) >= 84:
        triangles = int.from_bytes(head[80:84], "little")
        if triangles and path.stat().st_size == 84 + STL_TRIANGLE_BYTES * triangles:
            return True
    statements = _text_statements(head)
    words = [statement[0] for statement in statements or ()]
    return bool(words) and words[0] == "solid" and "facet" in words and all(word in STL_STATEMENTS for word in words)


PLY_FORMATS = (b"format ascii 1.0", b"format binary_little_endian 1.0", b"format binary_big_endian 1.0")


def _ply(head: bytes, _: Path) -> bool:
    """``ply`` on the first line, then the line that names its encoding."""
    first, _newline, rest = head.partition(b"\n")
    return first.rstrip(b"\r") == b"ply" and rest.startswith(PLY_FORMATS)


def _off(head: bytes, _: Path) -> bool:
    """Object File Format as trimesh reads it: ``OFF`` or ``COFF`` (colours), then the vertex and face counts."""
    statements = _text_statements(head)
    words = [word for statement in statements or () for word in statement][:3]
    return len(words) >= 3 and words[0] in ("OFF", "COFF") and all(word.isdigit() for word in words[1:])


FORMATS: dict[Kind, tuple[Format, ...]] = {
    "image": (
        Format("image/png", ".png", lambda head, _: head.startswith(b"\x89PNG\r\n\x1a\n")),
        Format("image/jpeg", ".jpg", lambda head, _: head.startswith(b"\xff\xd8\xff")),
        Format("image/webp", ".webp", _riff(b"WEBP")),
        Format("image/gif", ".gif", lambda head, _: head[:6] in (b"GIF87a", b"GIF89a")),
    ),
    "audio": (
        Format("audio/wav", ".wav", _riff(b"WAVE")),
        Format("audio/mpeg", ".mp3", _mp3),
        Format("audio/flac", ".flac", lambda head, _: head.startswith(b"fLaC")),
        Format("audio/ogg", ".ogg", _ogg_audio),
        Format("audio/mp4", ".m4a", _m4a),
    ),
    "video": (
        Format("video/mp4", ".mp4", _mp4),
        Format("video/webm", ".webm", _webm),
        Format("video/x-matroska", ".mkv", _matroska),
        Format("video/quicktime", ".mov", _mov),
    ),
    "graphics3d": (
        Format("model/gltf-binary", ".glb", _glb),
        Format("model/gltf+json", ".gltf", _gltf),
        Format("model/obj", ".obj", _obj),
        Format("model/stl", ".stl", _stl),
        Format("model/x-ply", ".ply", _ply),
        Format("model/x-off", ".off", _off),
    ),
}
ACCEPTED: dict[Kind, str] = {
    "image": "a PNG, JPEG, WebP or GIF image",
    "audio": "a WAV, MP3, FLAC, Ogg or M4A recording",
    "video": "an MP4, WebM, MKV or MOV video",
    "graphics3d": "a glTF, GLB, OBJ, STL, PLY or OFF model",
}


def uploads_dir() -> Path:
    """``<data dir>/uploads``, beside the history database."""
    return data_dir() / "uploads"


def check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise UploadError(f"unknown upload kind {kind!r}: use one of {', '.join(KINDS)}")
    return kind  # type: ignore[return-value]


def detect(path: Path, kind: Kind, subject: str = "the upload") -> Format:
    """The format of the file at ``path``, read from its content; ``UploadTypeError`` if ``kind`` takes none."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise UploadTypeError(f"{subject} is empty: give {ACCEPTED[kind]}")
    for candidate in FORMATS[kind]:
        if candidate.matches(head, path):
            return candidate
    raise UploadTypeError(f"{subject} is not {ACCEPTED[kind]} (its content was checked, not its name)")


def too_large(max_bytes: int) -> UploadTooLargeError:
    """The error for an upload past ``max_bytes``, which a face also raises when a request's body says so."""
    mebibytes, rest = divmod(max_bytes, 1024 * 1024)
    limit = f"{mebibytes} MiB" if mebibytes and not rest else f"{max_bytes:,}-byte"
    return UploadTooLargeError(f"the upload is larger than the {limit} limit")


class Uploads:
    """The uploads directory and its size limit. Made per request, so it follows the data directory's setting."""

    def __init__(self, directory: Path | None = None, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.directory = directory or uploads_dir()
        self.max_bytes = max_bytes

    async def receive(self, kind: str, original_name: str, chunks: AsyncIterable[bytes]) -> Upload:
        """Store a streamed file. ``UploadTooLargeError`` as soon as it passes the limit, ``UploadTypeError``
        if its content is not of ``kind``; either way, and on a dropped connection, nothing is left behind."""
        checked = check_kind(kind)
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        incoming = self.directory / f".{name}.part"
        size = 0
        try:
            with incoming.open("xb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise too_large(self.max_bytes)
                    await asyncio.to_thread(handle.write, chunk)
            found = await asyncio.to_thread(detect, incoming, checked)
            upload = Upload(
                upload_id=f"{name}{found.extension}",
                kind=checked,
                media_type=found.media_type,
                size=size,
                original_name=original_name[:MAX_NAME_CHARS],
                created_at=datetime.now(UTC).isoformat(),
            )
            await asyncio.to_thread(self._keep, incoming, upload)
            return upload
        finally:
            with contextlib.suppress(FileNotFoundError):
                incoming.unlink()

    def _keep(self, incoming: Path, upload: Upload) -> None:
        """Metadata first, then the file under its final name, so a listed upload always has its metadata."""
        (self.directory / f"{upload.upload_id}.json").write_text(json.dumps(asdict(upload)))
        os.replace(incoming, self.directory / upload.upload_id)


def resolve_upload(value: str, kind: str, directory: Path | None = None) -> Path:
    """The real path of a file inside the uploads directory, of ``kind``'s formats, for a modality's file field.

    ``value`` is an ``upload_id`` or a path relative to (or absolute inside) the uploads directory.
    ``..``, paths outside it and symlinks that lead out of it are refused with ``UploadError``.
    """
    checked = check_kind(kind)
    root = (directory or uploads_dir()).resolve()
    if not value.strip() or "\x00" in value:
        raise UploadError("no file given: upload one with POST /api/uploads and give its upload_id")
    given = Path(value)
    if ".." in given.parts:
        raise UploadError(f"{value!r} is refused: '..' is not allowed in an upload path")
    try:
        real = (given if given.is_absolute() else root / given).resolve()
        if not real.is_relative_to(root):
            raise UploadError(f"{value!r} is outside the uploads directory {root}: give an upload_id")
        if not real.is_file():
            raise UploadError(f"no uploaded file {value!r} in {root}")
        detect(real, checked, subject=repr(value))
    except OSError as exc:  # a name too long, a file we may not read
        raise UploadError(f"cannot read {value!r} in {root}: {exc.strerror or exc}") from None
    return real


def local_file(value: str, kind: str, directory: Path | None = None) -> Path:
    """The real path of a file on this machine, for the CLI (``--input image_path=photo.jpg``, relative to the
    working directory), of ``kind``'s formats and within the upload size limit; a name that is no local file
    but is an ``upload_id`` resolves as one. Only a face whose user owns the machine asks for this."""
    checked = check_kind(kind)
    if not value.strip() or "\x00" in value:
        raise UploadError("no file given: give the path of a file")
    path = Path(value).expanduser()
    try:
        if not path.is_file():
            if not path.is_absolute() and ".." not in path.parts and ((directory or uploads_dir()) / path).is_file():
                return resolve_upload(value, kind, directory)
            raise UploadError(f"no file {value!r} (a relative path starts in {Path.cwd()})")
        real = path.resolve()
        if real.stat().st_size > MAX_UPLOAD_BYTES:
            raise too_large(MAX_UPLOAD_BYTES)
        detect(real, checked, subject=repr(value))
    except OSError as exc:
        raise UploadError(f"cannot read {value!r}: {exc.strerror or exc}") from None
    return real


@dataclass(frozen=True, slots=True)
class UploadPath:
    """Pydantic metadata of a modality's file field, ``Annotated[str, upload_path("image")]``: it validates the
    field (an upload, ``resolve_upload``; with the ``LOCAL_FILES`` context a local file, ``local_file``) into
    the file's real path, so the modality never resolves the user's text again, and it tells the faces the
    field takes a file of ``kind`` (the UI renders an upload for it)."""

    kind: Kind

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._validate, handler(source))

    def _validate(self, value: str, info: ValidationInfo) -> str:
        local = isinstance(info.context, dict) and info.context.get(LOCAL_FILES) is True
        try:
            return str(local_file(value, self.kind) if local else resolve_upload(value, self.kind))
        except UploadError as exc:
            raise ValueError(str(exc)) from None


def upload_path(kind: Kind) -> UploadPath:
    """The metadata that makes a ``str`` field a file field of ``kind``: ``Annotated[str, upload_path("image")]``."""
    return UploadPath(check_kind(kind))


def upload_kind(metadata: list[Any]) -> Kind | None:
    """The kind of file a field takes, from its pydantic ``FieldInfo.metadata``; ``None``: not a file field."""
    return next((item.kind for item in metadata if isinstance(item, UploadPath)), None)
