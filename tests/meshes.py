"""Real 3D model files for the 3D tests, each written by trimesh's own exporters: a box with a peg (different
from every side, so its views must differ), a sphere, and each format trimesh reads; and the uploads of them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import trimesh

from llamaburn.storage.uploads import Upload, Uploads


def peg_box() -> trimesh.Trimesh:
    """A 1 x 2 x 3 box with a cylinder beside it along z: a rectangle with a disc from the front, a rectangle
    with a bar from the side, and so on; no two of the first four views look alike."""
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    peg = trimesh.creation.cylinder(radius=0.3, height=2.0)
    peg.apply_translation((1.0, 0.0, 0.0))
    joined = trimesh.util.concatenate([box, peg])
    assert isinstance(joined, trimesh.Trimesh)
    return joined


def sphere() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3)


def gltf(mesh: trimesh.Trimesh) -> bytes:
    """A glTF document with its buffers embedded as data URIs: one file, as an upload must be."""
    files = trimesh.exchange.gltf.export_gltf(trimesh.Scene(mesh), embed_buffers=True)
    return files["model.gltf"]


def exported(mesh: trimesh.Trimesh) -> dict[str, bytes]:
    """The mesh in every format the 3D modality takes, keyed by a name that says which flavour."""

    def as_bytes(file_type: str, **options: str) -> bytes:
        data = mesh.export(file_type=file_type, **options)
        assert isinstance(data, str | bytes)  # a dict only for formats of several files, none of these
        return data.encode() if isinstance(data, str) else data

    return {
        "glb": as_bytes("glb"),
        "gltf": gltf(mesh),
        "obj": as_bytes("obj"),
        "stl": as_bytes("stl"),
        "stl-ascii": as_bytes("stl_ascii"),
        "ply": as_bytes("ply"),
        "ply-ascii": as_bytes("ply", encoding="ascii"),
        "off": as_bytes("off"),
    }


MEDIA_TYPES = {
    "glb": "model/gltf-binary", "gltf": "model/gltf+json", "obj": "model/obj", "stl": "model/stl",
    "stl-ascii": "model/stl", "ply": "model/x-ply", "ply-ascii": "model/x-ply", "off": "model/x-off",
}  # fmt: skip

NO_FACES: dict[str, bytes] = {  # files of an accepted format that hold nothing to render
    "obj-vertices-only": b"# three points\nv 0 0 0\nv 1 0 0\nv 0 1 0\n",
    "ply-point-cloud": trimesh.PointCloud([[0, 0, 0], [1, 0, 0], [0, 1, 0]]).export(file_type="ply"),
    "gltf-empty-scene": json.dumps({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0}).encode(),
}
UNREADABLE: dict[str, bytes] = {  # the format's opening, then nothing trimesh can read
    "off-counts-without-vertices": b"OFF\n8 12 0\n",
    "gltf-external-buffer": json.dumps({
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}], "buffers": [{"uri": "model.bin", "byteLength": 36}],
    }).encode(),
}  # fmt: skip


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload(content: bytes, name: str = "model") -> Upload:
    """Store ``content`` as a user's upload does, in the test's own data directory."""
    return await Uploads().receive("graphics3d", name, _chunks(content))


def write(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path
