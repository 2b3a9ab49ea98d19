"""The API's bodies and answers, as OpenAPI shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llamaburn.api.deps import check_url
from llamaburn.backends.base import usable_api_key
from llamaburn.errors import ConfigError
from llamaburn.modelinfo.info import ModelInfo
from llamaburn.service.request import RunRequest
from llamaburn.storage.uploads import Kind


class RunBody(BaseModel):
    """A run to start: these run fields, and the modality's own fields (its ``Inputs``) in the same object.

    OpenAPI shows one schema per modality (``server.modality_bodies`` adds them), a union on ``type``.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "text",
                    "backend": "ollama",
                    "model_id": "llama3.2:1b",
                    "prompt": "Explain recursion.",
                    "iterations": 3,
                    "warmup": 1,
                }
            ]
        },
    )

    type: str = Field(
        RunRequest.model_fields["modality"].default,
        description="The modality: one of GET /api/plugins' available modalities.",
    )
    backend: str | None = Field(
        None,
        description="ollama, openai, embedded or a plugin's backend; default: Ollama if it answers, else embedded.",
    )
    url: str | None = Field(None, description="The server's URL; default: the backend's own (OLLAMA_HOST).")
    api_key: str | None = Field(None, description="Key for an OpenAI-compatible server; stored masked.")
    read_timeout: float | None = Field(None, gt=0, description="Seconds to wait for data (default: 300).")
    model_id: str | None = Field(None, description="The model; default: the backend's first model.")
    queue: bool = Field(False, strict=True, description="If the backend is busy, wait for it instead of answering 409.")

    @field_validator("url")
    @classmethod
    def _usable_url(cls, url: str | None) -> str | None:
        return check_url(url)

    @field_validator("api_key")
    @classmethod
    def _usable_api_key(cls, key: str | None) -> str | None:
        try:
            return usable_api_key(key)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("api_key: ")) from None


class RunStarted(BaseModel):
    run_id: str
    queued: bool = Field(description="True when the run waits for another run on its backend to end.")


class CancelAccepted(BaseModel):
    run_id: str
    status: str = Field(description="The run's status now; it becomes 'cancelled' once the request unwinds.")


class RunOut(BaseModel):
    """A stored run. ``created_at`` is UTC; ``summary`` maps each metric to its statistics."""

    id: str
    created_at: datetime
    modality: str
    backend: str
    model: str
    host: str | None = Field(None, description="The machine that measured it; None for a run that never said.")
    sweep_id: str | None = Field(None, description="The sweep it is a stream of a point of (/api/sweeps), or None.")
    status: str
    error: str | None = None
    config: dict[str, Any]
    summary: dict[str, Any]
    system: dict[str, Any]
    model_info: dict[str, Any] = Field(default_factory=dict, description="The model's description at run time.")


class IterationOut(BaseModel):
    index: int
    warmup: bool
    prompt: str
    output: str
    metrics: dict[str, Any]


class RunDetail(RunOut):
    iterations: list[IterationOut] = Field(description="Warmups first, then measured iterations in order.")


class HistoryPage(BaseModel):
    total: int = Field(description="How many runs history holds in all.")
    limit: int
    offset: int
    runs: list[RunOut] = Field(description="Newest first.")


class HostOut(BaseModel):
    """One host's share of history: what a fleet's history groups by."""

    host: str | None = Field(description="The machine that measured the runs; None for runs that never said.")
    runs: int = Field(description="How many runs history holds from it.")
    latest: datetime = Field(description="When its newest run started (UTC).")


class Cleared(BaseModel):
    deleted: int = Field(description="Runs deleted; runs still in progress are kept.")


class ModelOut(BaseModel):
    id: str
    size_bytes: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    backend: str
    url: str
    models: list[ModelOut]


class ModelDescription(BaseModel):
    backend: str
    url: str
    model: str = Field(description="The model's id on the server (Ollama's `name` becomes `name:latest`).")
    info: ModelInfo = Field(
        description="Merged from the server, the GGUF file and Hugging Face; `sources` says which told what."
    )


class UploadOut(BaseModel):
    upload_id: str = Field(
        description="The stored file's server-made name: give it as the modality's file field (image_path...)."
    )
    kind: Kind
    size: int = Field(description="Bytes.")
    media_type: str = Field(description="Read from the file's content, never from its name: image/png, audio/wav...")
