"""OpenAPI for ``POST /api/benchmark``: one body schema per runnable modality, a union on ``type``.

The route itself takes a ``RunBody`` (the run fields, the modality's own fields beside them) and
leaves the inputs to the modality's ``Inputs`` model inside ``prepare_run``, so one route serves every
modality, a plugin's too. This module makes the documented schema say the same thing precisely: each
modality's body is the run fields plus its ``Inputs`` fields, built from the registry when the app is
made, so a plugin's new field appears in ``/openapi.json`` with no API edit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import Field, TypeAdapter, create_model

from llamaburn.api.schemas import RunBody
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import Registry

PATH = "/api/benchmark"
REF = "#/components/schemas/{model}"


def body_model(modality: Modality) -> type:
    """The run fields and ``modality``'s inputs as one model, named after it (``TextRunBody``)."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in RunBody.model_fields.items() if name != "type"
    }
    default = RunBody.model_fields["type"].default
    # The body's default modality may leave out ``type``; every other one must name itself.
    chosen = Field(default, description="The modality.") if modality.name == default else Field(
        description="The modality."
    )
    fields["type"] = (Literal[modality.name], chosen)
    return create_model(
        f"{modality.name.title().replace('_', '')}RunBody",
        __base__=modality.inputs,
        __doc__=f"A {modality.label} run: the run fields, and the {modality.label} modality's own inputs.",
        **fields,
    )


def bodies_schema(registry: Registry) -> dict[str, Any]:
    """``{"oneOf": [...], "$defs": {...}}`` over the runnable modalities' bodies.

    ``oneOf``, since each body's ``type`` is a constant, so a body matches exactly one. No OpenAPI
    ``discriminator``: it needs ``type`` in every body, and the default modality's body may leave it out.
    """
    schemas = [TypeAdapter(body_model(m)).json_schema(ref_template=REF) for m in registry.modalities.values()
               if m.available]
    defs: dict[str, Any] = {}
    for schema in schemas:
        defs |= schema.pop("$defs", {})
        defs[schema["title"]] = schema
    return {"oneOf": [{"$ref": REF.format(model=schema["title"])} for schema in schemas], "$defs": defs}


def document_modality_bodies(app: FastAPI, registry: Registry) -> None:
    """Make ``app.openapi()`` show the per-modality bodies for ``POST /api/benchmark``."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        union = bodies_schema(registry)
        spec.setdefault("components", {}).setdefault("schemas", {}).update(union.pop("$defs"))
        operation = spec["paths"][PATH]["post"]
        operation["requestBody"]["content"]["application/json"]["schema"] = union
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
