"""What a face asks for when it starts a run: one value that every face builds and `prepare_run` takes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RunRequest(BaseModel):
    """A run as a user asked for it, before validation: the modality, its raw inputs, and where to run them.

    ``inputs`` are the modality's own fields as typed (text from a command line, JSON from the API, values
    from a form); the modality's ``Inputs`` model validates them inside ``prepare_run``, which raises
    ``InputsError`` naming each bad field. ``api_key`` and ``read_timeout`` travel here, not beside the
    request, so every face can set them.
    """

    model_config = ConfigDict(extra="forbid")

    modality: str = "text"
    inputs: dict[str, Any] = Field(default_factory=dict)
    backend: str | None = None
    url: str | None = None
    api_key: str | None = None
    read_timeout: float | None = Field(None, gt=0)
    model: str | None = None
    save: bool = True
    inputs_are_json: bool = False
    """The inputs are a JSON body's (the API): validated strictly as JSON, not converted from text."""
    local_files: bool = False
    """A file field may name a file on this machine, not only an upload: the CLI's user owns the machine; the
    API and the UI never set it, so their clients reach only the uploads directory."""
