"""Real files, small, for the upload tests: each is what its format's own tools write, trimmed to the fewest
valid bytes; and the helpers that stream them and list what the uploads directory kept."""

from __future__ import annotations

import io
import json
import struct
import wave
import zlib
from collections.abc import AsyncIterator

import trimesh

from llamaburn.storage.uploads import Uploads


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
    """One triangle, as trimesh writes it: the 3D form reads the model, and refuses one with no faces."""
    triangle = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])
    data = triangle.export(file_type="glb")
    assert isinstance(data, bytes)
    return data


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


def kept(uploads: Uploads) -> list[str]:
    """Every file in the uploads directory, hidden ones (an upload in progress) included."""
    return sorted(path.name for path in uploads.directory.iterdir()) if uploads.directory.exists() else []
