"""The 3D form: the model file, the question, and how it is rendered.

The form's check reads the model (trimesh, no rendering), so a file that holds no faces, cannot be read, or has
more faces than ``max_faces`` is refused with the other bad inputs, before any request is sent or anything is
stored: on every face, in one line naming ``model_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from llamaburn.plugin import Prompt, VisionInputs, cli_flag, upload_path

from .mesh import MeshError, mesh_facts
from .views import DEFAULT_VIEWS, VIEWS

DEFAULT_PROMPT = "Describe this 3D object."
DEFAULT_MAX_FACES = 1_000_000  # a 50 MB binary STL; 1.3M faces took 3 to 4.5 s to load, 4 to 9 s to render here


class Graphics3DInputs(VisionInputs):
    model_path: Annotated[str, upload_path("graphics3d")] = Field(
        title="3D model file",  # not "Model path": the header's model is the LLM
        description="The 3D model (glTF, GLB, OBJ, STL, PLY or OFF): an upload_id from POST /api/uploads, or on "
        "the command line a local file (named by its format's extension).",
        json_schema_extra=cli_flag("--mesh"),
    )
    prompt: Prompt = Field(
        DEFAULT_PROMPT,
        description="What to ask about the rendered views.",
        json_schema_extra={"multiline": True, **cli_flag("--prompt")},
    )
    views: int = Field(
        DEFAULT_VIEWS,
        ge=1,
        le=len(VIEWS),
        description=f"How many views to render and send, in this order: {', '.join(view.name for view in VIEWS)}.",
        json_schema_extra=cli_flag("--views"),
    )
    render_size: int = Field(512, ge=64, le=2048, description="Each view's width and height, in pixels.")
    max_faces: int = Field(
        DEFAULT_MAX_FACES, ge=1, le=20_000_000, description="The largest model accepted, in faces (triangles)."
    )

    @model_validator(mode="after")
    def _renderable(self) -> Graphics3DInputs:
        """Read the model once the path is checked; its problem is reported as ``model_path``'s."""
        try:
            mesh_facts(Path(self.model_path), self.max_faces)
        except MeshError as exc:
            problem = InitErrorDetails(  # the message goes in as context: a brace in it is not a placeholder
                type=PydanticCustomError("mesh", "{problem}", {"problem": str(exc)}),
                loc=("model_path",),
                input=Path(self.model_path).name,
            )
            raise ValidationError.from_exception_data(type(self).__name__, [problem]) from None
        return self
