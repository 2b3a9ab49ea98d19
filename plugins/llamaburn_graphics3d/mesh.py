"""A 3D model file read with trimesh into one triangle mesh, or refused in one line when it cannot be shown.

The checked path of an upload ends in the extension its content was detected as (``.glb``, ``.stl``...), so
the extension names trimesh's loader here. The file is handed to trimesh as bytes, without a resolver: a glTF
or OBJ that points at other files (buffers, textures, materials) cannot make it read anything beside the
upload, and one that needs them is refused.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # trimesh is imported when a model is read, so that listing the plugins stays fast
    import trimesh

FILE_TYPES = {".glb": "GLB", ".gltf": "glTF", ".obj": "OBJ", ".stl": "STL", ".ply": "PLY", ".off": "OFF"}
"""The formats trimesh reads for us, by the extension the upload's content was detected as."""


class MeshError(ValueError):
    """The file holds no mesh that can be rendered: unreadable, without faces, or past the face limit. A
    ``ValueError``, so a form's validator turns it into the field's one-line problem."""


@dataclass(frozen=True, slots=True)
class MeshFacts:
    """What the form's check learns about a model, without rendering it."""

    file_format: str
    faces: int
    vertices: int


def file_format(path: Path) -> str:
    """The format's name (``"GLB"``) from the checked path's extension."""
    try:
        return FILE_TYPES[path.suffix.lower()]
    except KeyError:
        raise MeshError(
            f"cannot tell the format of {path.name}: give a file ending in {', '.join(FILE_TYPES)}"
        ) from None


def load_mesh(path: Path, max_faces: int) -> trimesh.Trimesh:
    """The model's geometry as one triangle mesh (a scene's meshes joined, each moved by its node's transform).

    Raises ``MeshError`` when trimesh cannot read it, when it has no faces (a point cloud, lines only, an
    empty scene) and when it has more than ``max_faces``.
    """
    import trimesh

    name = file_format(path)
    try:
        scene = trimesh.load_scene(io.BytesIO(path.read_bytes()), file_type=name.lower(), resolver=None)
        mesh = scene.to_mesh()
    except Exception as exc:  # trimesh's loaders raise whatever their parser met (KeyError, TypeError...)
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshError(f"the {name} file cannot be read as a 3D model ({reason})") from None
    faces = len(mesh.faces)
    if not faces:
        raise MeshError(f"the {name} model has no faces (points or lines only, or nothing): there is nothing to render")
    if faces > max_faces:
        raise MeshError(
            f"the {name} model has {faces:,} faces, over the limit of {max_faces:,} (max_faces): "
            "simplify it or raise max_faces"
        )
    return mesh


def mesh_facts(path: Path, max_faces: int) -> MeshFacts:
    """``load_mesh``'s verdict, remembered for a file that has not changed: a form is validated more than
    once (each sweep point, each preview), and an upload never changes under its server-made name."""
    status = os.stat(path)
    return _facts(str(path), status.st_size, status.st_mtime_ns, max_faces)


@lru_cache(maxsize=64)
def _facts(path: str, size: int, mtime_ns: int, max_faces: int) -> MeshFacts:
    mesh = load_mesh(Path(path), max_faces)
    return MeshFacts(file_format(Path(path)), len(mesh.faces), len(mesh.vertices))
