"""A sweep as a user asks for it, and the grid of points it expands into.

Every point is an ordinary ``RunRequest`` (one per simultaneous stream), so a sweep is built by the same
``prepare_run`` as every run, and its points are checked before anything touches the network.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llamaburn.engine.registry import Registry
from llamaburn.errors import InputsError
from llamaburn.service.assembly import plan
from llamaburn.service.depth import MAX_DEPTH, context_text
from llamaburn.service.request import RunRequest

MAX_CONCURRENCY = 64
"""Streams per point: at most the backend's keep-alive pool (``KEEPALIVE_CONNECTIONS``), so every stream
keeps its connection from one request to the next."""


class SweepRequest(BaseModel):
    """The axes of a sweep over one base request: ``models`` (empty: the base request's model), any of the
    modality's inputs with a list of values (``settings``), context ``depth`` and ``concurrency``. ``slo``
    sets the most each named metric may be (``{"ttft_ms": 500}``) for a request to count toward goodput."""

    model_config = ConfigDict(extra="forbid")

    base: RunRequest = Field(default_factory=lambda: RunRequest.model_validate({}))
    models: list[str] = Field(default_factory=list)
    settings: dict[str, list[Any]] = Field(default_factory=dict)
    concurrency: list[int] = Field(default_factory=lambda: [1])
    depth: list[int] = Field(default_factory=list)
    """Tokens of context before each prompt (``service/depth.py``); empty: the prompts as given."""
    slo: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Point:
    """One cell of the grid: its coordinates on every axis, and the request each of its streams sends."""

    index: int
    coordinates: dict[str, Any]
    request: RunRequest
    concurrency: int


def points(sweep: SweepRequest, registry: Registry) -> list[Point]:
    """The grid, in order: models outermost, then each setting as given, then depth, then concurrency. Every point is
    validated here by the modality's ``Inputs`` (``InputsError`` names the axis and value's path, as
    ``("settings", field, index)``), so bad input changes nothing."""
    _check_axes(sweep)
    models: list[str | None] = list(sweep.models) or [sweep.base.model]
    names = list(sweep.settings)
    choices = itertools.product(*(range(len(sweep.settings[name])) for name in names))
    depths: list[int | None] = list(sweep.depth) or [None]
    grid = itertools.product(models, list(choices), depths, sweep.concurrency)
    result = []
    for index, (model, picks, depth, concurrency) in enumerate(grid):
        chosen = {name: sweep.settings[name][pick] for name, pick in zip(names, picks, strict=True)}
        inputs = {**sweep.base.inputs, **chosen}
        if depth is not None:
            inputs = registry.runnable(sweep.base.modality).with_context(inputs, context_text(depth))
        request = sweep.base.model_copy(update={"model": model, "inputs": inputs})
        try:
            plan(registry, request.modality, request.inputs, request.backend, request.url, request.model,
                 as_json=request.inputs_are_json, local_files=request.local_files)
        except InputsError as exc:
            raise InputsError([(_where(loc, names, picks), message) for loc, message in exc.problems]) from None
        at_depth = {"depth": depth} if depth is not None else {}
        coordinates = {"model": model, **chosen, **at_depth, "concurrency": concurrency}
        result.append(Point(index, coordinates, request, concurrency))
    return result

def _check_axes(sweep: SweepRequest) -> None:
    if len(set(sweep.models)) != len(sweep.models) or any(not model.strip() for model in sweep.models):
        raise InputsError([(("models",), "each model once, none empty")])
    for name, values in sweep.settings.items():
        if not values:
            raise InputsError([(("settings", name), "give at least one value")])
    if not sweep.concurrency or any(not 1 <= c <= MAX_CONCURRENCY for c in sweep.concurrency):
        raise InputsError([(("concurrency",), f"each from 1 to {MAX_CONCURRENCY} (got {sweep.concurrency})")])
    if len(set(sweep.concurrency)) != len(sweep.concurrency):
        raise InputsError([(("concurrency",), f"each value once (got {sweep.concurrency})")])
    if any(not 1 <= d <= MAX_DEPTH for d in sweep.depth) or len(set(sweep.depth)) != len(sweep.depth):
        raise InputsError([(("depth",), f"each value once, from 1 to {MAX_DEPTH:,} tokens (got {sweep.depth})")])
    if any(limit < 0 for limit in sweep.slo.values()):
        raise InputsError([(("slo",), "limits must be >= 0")])


def _where(loc: tuple[str | int, ...], names: list[str], picks: tuple[int, ...]) -> tuple[str | int, ...]:
    """A problem with a swept field points at the axis value that caused it, else at the base inputs."""
    if loc and loc[0] in names:
        return ("settings", loc[0], picks[names.index(str(loc[0]))], *loc[1:])
    return ("base", "inputs", *loc)

