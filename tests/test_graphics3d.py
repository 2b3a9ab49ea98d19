"""The 3D modality's input side: each format trimesh writes is accepted as an upload by its content, and the
form refuses, in one line naming ``model_path``, a model with no faces, one trimesh cannot read, one past the
face limit and a file of another kind, before anything is rendered, sent or stored.

Every file is real: written by trimesh's exporters, stored by ``Uploads`` in the test's own data directory.
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import BackendError, InputsError
from llamaburn.service.assembly import BackendPool, prepare_run
from llamaburn.service.request import RunRequest
from llamaburn.storage.uploads import Uploads, UploadTypeError
from llamaburn_graphics3d.inputs import DEFAULT_PROMPT, Graphics3DInputs
from llamaburn_graphics3d.mesh import MeshFacts, mesh_facts
from tests.meshes import MEDIA_TYPES, NO_FACES, UNREADABLE, exported, peg_box, sphere, upload
from tests.upload_samples import chunks_of, kept, png


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return exported(peg_box())


def parse(data: dict[str, object]) -> Graphics3DInputs:
    inputs = load_registry().modality("graphics3d").parse_inputs(data)
    assert isinstance(inputs, Graphics3DInputs)
    return inputs


@pytest.mark.parametrize("flavour", list(MEDIA_TYPES))
async def test_each_format_is_accepted_by_its_content(flavour: str, files: dict[str, bytes]) -> None:
    stored = await upload(files[flavour], name="model.bin")  # the name says nothing: the content decides
    assert stored.media_type == MEDIA_TYPES[flavour]
    assert stored.upload_id.endswith("." + flavour.split("-")[0])


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (bytes(80) + struct.pack("<I", 3) + bytes(50 * 2), "a binary STL shorter than its triangle count says"),
        (bytes(80) + struct.pack("<I", 0), "a binary STL of no triangles: 84 bytes of anything"),
        (b"solid cube\n facet normal 0 0 1\n<html><body>\n", "an ASCII STL's opening, then HTML"),
        (b"ply\nelement vertex 3\nend_header\n", "PLY without its format line"),
        (b"OFF\nthree vertices\n", "OFF without its counts"),
        (b"# OFF\nv 0 0 0\nf 1 1 1\nsolid\n", "statements of three formats"),
    ],
)
async def test_content_that_only_looks_like_a_model_is_refused(content: bytes, why: str) -> None:
    uploads = Uploads()
    with pytest.raises(UploadTypeError, match=r"is not a glTF, GLB, OBJ, STL, PLY or OFF model"):
        await uploads.receive("graphics3d", "model.stl", chunks_of(content))
    assert kept(uploads) == [], why


async def test_a_good_model_passes_the_form_with_its_defaults(files: dict[str, bytes]) -> None:
    stored = await upload(files["glb"])
    inputs = parse({"model_path": stored.upload_id})
    assert inputs.model_path.endswith(stored.upload_id)
    assert (inputs.prompt, inputs.views, inputs.render_size, inputs.max_faces) == (
        DEFAULT_PROMPT, 4, 512, 1_000_000)
    assert DEFAULT_PROMPT == "Describe this 3D object."


@pytest.mark.parametrize("name", list(NO_FACES))
async def test_a_model_with_no_faces_is_refused_in_one_line(name: str) -> None:
    stored = await upload(NO_FACES[name])
    with pytest.raises(InputsError) as refused:
        parse({"model_path": stored.upload_id})
    [(loc, message)] = refused.value.problems
    assert loc == ("model_path",)
    assert "has no faces" in message and "nothing to render" in message and "\n" not in str(refused.value)


@pytest.mark.parametrize("name", list(UNREADABLE))
async def test_a_file_trimesh_cannot_read_is_refused_in_one_line(name: str) -> None:
    stored = await upload(UNREADABLE[name])
    with pytest.raises(InputsError) as refused:
        parse({"model_path": stored.upload_id})
    [(loc, message)] = refused.value.problems
    assert loc == ("model_path",) and "cannot be read as a 3D model" in message
    assert "\n" not in str(refused.value)


async def test_a_model_past_the_declared_face_limit_is_refused_with_both_counts() -> None:
    stored = await upload(exported(sphere())["stl"])
    assert parse({"model_path": stored.upload_id, "max_faces": 1280}).max_faces == 1280  # the limit is inclusive
    with pytest.raises(InputsError) as refused:
        parse({"model_path": stored.upload_id, "max_faces": 1000})
    assert str(refused.value) == (
        f"model_path: the STL model has 1,280 faces, over the limit of 1,000 (max_faces): simplify it or raise "
        f"max_faces (got '{stored.upload_id}')"
    )


async def test_a_file_of_another_kind_is_refused_by_its_content() -> None:
    picture = await Uploads().receive("image", "photo.png", chunks_of(png()))
    with pytest.raises(InputsError, match=r"^model_path: .*is not a glTF, GLB, OBJ, STL, PLY or OFF model"):
        parse({"model_path": picture.upload_id})
    with pytest.raises(UploadTypeError):
        await Uploads().receive("graphics3d", "photo.glb", chunks_of(png()))


@pytest.mark.parametrize(("field", "value"), [("views", 0), ("views", 9), ("render_size", 32), ("max_faces", 0)])
async def test_each_rendering_setting_has_its_limits(field: str, value: int, files: dict[str, bytes]) -> None:
    stored = await upload(files["obj"])
    with pytest.raises(InputsError) as refused:
        parse({"model_path": stored.upload_id, field: value})
    assert [loc for loc, _ in refused.value.problems] == [(field,)]


async def test_a_runs_form_check_reads_the_model_off_the_event_loop(
    files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large model takes seconds to read; the app's event loop may be timing another run's stream then."""
    stored = await upload(files["ply"])
    readers: list[int] = []

    def recorded(path: Path, max_faces: int) -> MeshFacts:
        readers.append(threading.get_ident())
        return mesh_facts(path, max_faces)

    monkeypatch.setattr("llamaburn_graphics3d.inputs.mesh_facts", recorded)
    registry = load_registry()
    request = RunRequest(  # nothing listens at that URL: the run stops once validated
        modality="graphics3d", inputs={"model_path": stored.upload_id}, backend="ollama", url="http://127.0.0.1:9",
        read_timeout=None,
    )
    with pytest.raises(BackendError):
        await prepare_run(request, registry, BackendPool(registry))
    assert readers and threading.get_ident() not in readers
