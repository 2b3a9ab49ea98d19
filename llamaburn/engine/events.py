"""Typed run events.

Each event serialises (``event.model_dump()``) to exactly the JSON of the spec, with a ``type`` field, so
the SSE endpoint can forward it unchanged and any consumer can parse it back with ``parse_event``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class Warmup(BaseModel):
    """A warmup request is starting: ``current`` of ``total`` (1-based), with the prompt it sends."""

    type: Literal["warmup"] = "warmup"
    current: int
    total: int
    prompt: str


class WarmupComplete(BaseModel):
    """A warmup request finished; its metrics are stored but left out of the summary."""

    type: Literal["warmup_complete"] = "warmup_complete"
    current: int
    total: int
    metrics: dict[str, Any]


class IterationStart(BaseModel):
    type: Literal["iteration_start"] = "iteration_start"
    iteration: int
    total: int
    prompt: str


class Token(BaseModel):
    """Text as it arrives from the server: one chunk, which may hold several tokens. ``thinking`` text is a
    reasoning model's thinking, sent apart from its answer, so a face can show it apart. ``at_ms``: when it
    arrived, in milliseconds since the iteration's request began (the client's clock), for live rate charts."""

    type: Literal["token"] = "token"
    text: str
    thinking: bool = False
    at_ms: float | None = None


class IterationComplete(BaseModel):
    type: Literal["iteration_complete"] = "iteration_complete"
    iteration: int
    metrics: dict[str, Any]


class Complete(BaseModel):
    type: Literal["complete"] = "complete"
    summary: dict[str, dict[str, float]]


class Cancelled(BaseModel):
    type: Literal["cancelled"] = "cancelled"


class Error(BaseModel):
    type: Literal["error"] = "error"
    message: str


Event = Annotated[
    Warmup | WarmupComplete | IterationStart | Token | IterationComplete | Complete | Cancelled | Error,
    Field(discriminator="type"),
]
TERMINAL_TYPES = frozenset({"complete", "cancelled", "error"})

_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict[str, Any] | str | bytes) -> Event:
    """Rebuild an event from its JSON form (a dict or the raw text)."""
    if isinstance(data, dict):
        return _adapter.validate_python(data)
    return _adapter.validate_json(data)
