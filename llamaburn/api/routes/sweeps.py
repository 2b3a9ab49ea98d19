"""Sweeps: start a grid of runs (models x input values x concurrency), then follow its points over SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from llamaburn.api.deps import Service
from llamaburn.api.errors import engine_errors, responses
from llamaburn.api.routes import router
from llamaburn.api.routes.runs import run_request
from llamaburn.api.schemas import RunBody
from llamaburn.api.sse import LastEventId
from llamaburn.errors import ConfigError, InputsError, SweepBusyError
from llamaburn.service.sweep import MAX_CONCURRENCY, SweepRequest
from llamaburn.service.sweep_history import summaries


class SweepBody(BaseModel):
    """A sweep: ``run`` is the base of every point (a ``POST /api/benchmark`` body), then the axes."""

    model_config = ConfigDict(extra="forbid")

    run: RunBody = Field(default_factory=lambda: RunBody.model_validate({}))
    models: list[str] = Field(default_factory=list, description="Models to sweep; default: run.model_id.")
    settings: dict[str, list[Any]] = Field(
        default_factory=dict, description="Fields of the modality's inputs, each with the values to sweep."
    )
    concurrency: list[int] = Field(
        default_factory=lambda: [1], description=f"Simultaneous streams per point, each 1 to {MAX_CONCURRENCY}."
    )
    depth: list[int] = Field(default_factory=list, description="Tokens of context before each prompt (estimated).")
    slo: dict[str, float] = Field(
        default_factory=dict, description="Metric -> most allowed value (ttft_ms: 500): goodput's SLOs."
    )


class SweepStarted(BaseModel):
    sweep_id: str
    points: int
    missing: int = Field(description="Points that will run: all of them, but for a resumed sweep.")


class SweepResume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(None, description="The server's key: history never keeps it.")


class SweepCancelAccepted(BaseModel):
    sweep_id: str
    cells: int = Field(description="Points finished so far; they stay in history, the rest never start.")


class SweepOut(BaseModel):
    sweep_id: str
    started: datetime
    latest: datetime = Field(description="When its latest run started.")
    models: list[str]
    points: int | None = Field(description="Points of its grid; null when this install cannot rebuild it.")
    expected: int | None = Field(description="Runs its grid makes: each point's concurrency, summed.")
    runs: int = Field(description="Runs history has of it.")
    completed: int
    status: str = Field(description="running, completed (every expected run completed) or partial.")


@router.get("/sweeps", response_model=list[SweepOut], responses=responses(503))
async def list_sweeps(service: Service, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[SweepOut]:
    """History grouped by sweep, newest first: resume one with ``POST /api/sweep/{sweep_id}/resume`` (a
    completed one runs nothing and ends with its curves and table); its runs carry ``sweep_id``."""
    with engine_errors():
        found = await asyncio.to_thread(summaries, service.store, service.registry, limit)
    return [SweepOut.model_validate(summary, from_attributes=True) for summary in found]


@router.post("/sweep", status_code=202, response_model=SweepStarted, responses=responses(400))
async def start_sweep(body: SweepBody, service: Service) -> SweepStarted:
    """Start a sweep and answer at once; follow it at ``/api/sweep/{sweep_id}/stream``. Every stream of
    every point is a run in history whose ``config.sweep.id`` is the sweep's."""
    base, renamed = run_request(service.registry, body.run)
    request = SweepRequest(base=base, models=body.models, settings=body.settings, concurrency=body.concurrency,
                           depth=body.depth, slo=body.slo)
    try:
        live = service.sweeps.start(request)
    except InputsError as exc:
        raise RequestValidationError([_located(loc, message, renamed) for loc, message in exc.problems]) from None
    return SweepStarted(sweep_id=live.id, points=len(live.sweep.points), missing=len(live.sweep.missing))


def _located(loc: tuple[str | int, ...], message: str, renamed: dict[str, str]) -> dict[str, Any]:
    """The body path of a problem: a base input's is under ``run`` (by the name the client sent)."""
    if loc[:2] == ("base", "inputs"):
        rest = loc[2:]
        loc = ("run", renamed.get(str(rest[0]), rest[0]), *rest[1:]) if rest else ("run",)
    return {"type": "value_error", "loc": ("body", *loc), "msg": message}


SWEEP_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"description": "`cell` events, one per finished point, then `sweep_end` with the knees and curves.",
          "content": {"text/event-stream": {}}},
    404: {"description": "No sweep with that id since LlamaBurn started."},
}


@router.get("/sweep/{sweep_id}/stream", response_class=StreamingResponse, responses=SWEEP_STREAM)
async def follow_sweep(sweep_id: str, service: Service, last_event_id: LastEventId = None) -> Response:
    """Follow a sweep: a late client first gets every event so far; ``id`` is the event's index."""
    live = service.sweeps.sweeps.get(sweep_id)
    if live is None:
        raise HTTPException(404, f"no sweep {sweep_id!r} since LlamaBurn started: its runs are in /api/history")
    skip = int(last_event_id) + 1 if last_event_id and last_event_id.strip().isdigit() else 0

    async def events() -> AsyncIterator[str]:
        async for index, event in live.follow(skip):
            yield f"id: {index}\nevent: {event['type']}\ndata: {json.dumps(event, default=str)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/sweep/{sweep_id}/cancel", status_code=202, response_model=SweepCancelAccepted,
             responses=responses(404, 409))
async def cancel_sweep(sweep_id: str, service: Service) -> SweepCancelAccepted:
    """Cancel a sweep: the point in flight stops (its streams keep their finished iterations), no later
    point starts; the stream ends with ``sweep_end`` ``cancelled``."""
    live = service.sweeps.sweeps.get(sweep_id)
    if live is None:
        raise HTTPException(404, f"no sweep {sweep_id!r} since LlamaBurn started")
    if live.done.is_set():
        raise HTTPException(409, f"sweep {sweep_id} is not in progress")
    live.sweep.cancel()
    return SweepCancelAccepted(sweep_id=live.id, cells=len(live.sweep.cells_done))


@router.post("/sweep/{sweep_id}/resume", status_code=202, response_model=SweepStarted,
             responses=responses(400, 404, 409))
async def resume_sweep(sweep_id: str, service: Service, body: SweepResume | None = None) -> SweepStarted:
    """Resume a cancelled or killed sweep from history: only its unfinished points run (the runs of a point
    cut short are replaced), then follow it at ``/api/sweep/{sweep_id}/stream`` as a new sweep. 404 for a
    sweep history does not have, 409 for one still in progress."""
    try:
        live = await service.sweeps.resume(sweep_id, body.api_key if body else None)
    except SweepBusyError as exc:
        raise HTTPException(409, str(exc)) from None
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None
    return SweepStarted(sweep_id=live.id, points=len(live.sweep.points), missing=len(live.sweep.missing))
