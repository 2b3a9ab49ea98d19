"""A throwaway plugin that no face knows: its fields and its backend must reach every face unedited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import Field

from llamaburn.plugin import (
    Backend,
    ChatRequest,
    Chunk,
    Inputs,
    Metric,
    Modality,
    ModelEntry,
    Target,
    hookimpl,
    measure_stream,
)


class DialInputs(Inputs):
    level: int = Field(4, ge=1, le=9, title="Level", description="How far to turn the dial.")
    flavour: Literal["sweet", "sour"] = Field("sweet", title="Flavour", description="Which way to turn it.")


class DialModality(Modality):
    name = "dial"
    label = "Dial"
    available = True
    inputs = DialInputs
    metrics = (Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),)

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, DialInputs)
        return f"turn the dial to {inputs.level}, {inputs.flavour}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        return await measure_stream(target.backend.stream_chat(ChatRequest(model=target.model, prompt=prompt)), on_text)


class DialBackend(Backend):
    """A server no face has heard of, reached at a URL."""

    name = "dial"
    label = "Dial server"
    default_url = "http://127.0.0.1:7777"
    url_placeholder = "http://dial.local:7777"

    async def version(self) -> str | None:
        return None

    async def models(self) -> list[ModelEntry]:
        return [ModelEntry("dial-1")]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        yield Chunk(content="click")


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(DialModality())


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    register(DialBackend)
