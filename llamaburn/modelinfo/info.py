"""What a model is: size, quantization, family, format, context length, capabilities and its Hugging Face
card, with the source each field came from. A plain value: backends describe models as ``ModelFacts``, and
``ModelInfoService`` merges them into one of these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    """One model's description; ``sources`` names where each known field came from."""

    model_id: str
    parameter_size: str | None = None
    quantization: str | None = None
    family: str | None = None
    format: str | None = None
    context_length: int | None = None
    capabilities: list[str] = Field(default_factory=list)
    vram_bytes: int | None = None
    slots: int | None = None  # requests the server decodes at once (llama-server -np)
    slot_context: int | None = None  # tokens one request can hold there (llama-server -c over its slots)
    chat_template: bool | None = None
    hf_repo: str | None = None
    hf_downloads: int | None = None
    license: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)

    def merge(self, source: str, **fields: Any) -> None:
        """Fill the fields still unknown; the first source to know a field wins."""
        for name, value in fields.items():
            if value not in (None, [], "") and getattr(self, name) in (None, []):
                setattr(self, name, value)
                self.sources[name] = source
