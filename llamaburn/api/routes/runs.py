"""Runs: start one, follow it live over SSE, cancel it."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import HTTPException, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from llamaburn.api.deps import Service, open_backend, stored
from llamaburn.api.errors import RunBusy, engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.api.schemas import (
    BenchmarkRequest,
    CancelAccepted,
    RunStarted,
)
from llamaburn.api.sse import IN_PROGRESS, STREAM_RESPONSES, LastEventId, sse_response
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import Registry
from llamaburn.errors import (
    ComingSoonError,
    ConfigError,
    RunInProgressError,
)
from llamaburn.service.assembly import Plan, plan

COMMON_INPUTS = ("iterations", "warmup", "temperature", "max_tokens", "seed")


def _inputs(body: BenchmarkRequest, modality: Modality) -> tuple[dict[str, Any], dict[str, str]]:
    """The modality's inputs from the body, and which body field each renamed input came from."""
    data: dict[str, Any] = {name: getattr(body, name) for name in COMMON_INPUTS if getattr(body, name) is not None}
    data.update(body.model_extra or {})
    renamed: dict[str, str] = {}
    if body.prompt is not None and body.prompts is not None:
        raise invalid("body", "prompt", "give prompt or prompts, not both")
    if body.prompt is not None:
        if "prompt" in modality.inputs.model_fields or "prompts" not in modality.inputs.model_fields:
            data["prompt"] = body.prompt
        else:
            data["prompts"], renamed["prompts"] = [body.prompt], "prompt"
    elif body.prompts is not None:
        data["prompts"] = body.prompts
    return data, renamed


def plan_request(registry: Registry, body: BenchmarkRequest) -> Plan:
    """``benchmark.plan()``, with each of its errors pinned to the body field at fault."""
    try:
        modality = registry.modality(body.type)
    except ConfigError as exc:
        raise invalid("body", "type", str(exc)) from None
    inputs, renamed = _inputs(body, modality)
    try:
        return plan(registry, body.type, inputs, body.backend, body.url, body.model_id)
    except ComingSoonError as exc:
        raise invalid("body", "type", str(exc)) from None
    except ConfigError as exc:
        if body.backend is not None and body.backend not in registry.backends:
            raise invalid("body", "backend", str(exc)) from None
        if body.model_id is not None and not body.model_id.strip():
            raise invalid("body", "model_id", "must not be empty") from None
        try:
            modality.inputs.model_validate(inputs)
        except ValidationError as errors:
            raise RequestValidationError([_located(error, renamed) for error in errors.errors()]) from None
        raise invalid("body", "type", str(exc)) from None


def _located(error: Any, renamed: dict[str, str]) -> dict[str, Any]:
    loc = list(error["loc"])
    if loc and loc[0] in renamed:
        loc = [renamed[loc[0]]]  # "prompt" was sent as prompts[0]
    return {"type": error["type"], "loc": ("body", *loc), "msg": error["msg"]}


@router.post("/benchmark", status_code=202, response_model=RunStarted, responses=responses(400, 409, 502, 503))
async def start_benchmark(body: BenchmarkRequest, service: Service) -> Any:
    """Start a run and answer at once; follow it at ``/api/benchmark/{run_id}/stream``."""
    checked = plan_request(service.registry, body)
    backend = await open_backend(service, checked.backend, checked.url, body.api_key, "body")
    checked = dataclasses.replace(checked, backend=backend.name)  # the default backend is probed once
    with engine_errors(model_loc=("body", "model_id")):
        try:
            run = await service.start(checked, body.api_key, queue=body.queue, announce=True)
        except RunInProgressError as exc:
            return JSONResponse(RunBusy(detail=str(exc), run_id=exc.run_id).model_dump(), status_code=409)
    return RunStarted(run_id=run.id, queued=service.ahead(run) is not None)


@router.get("/benchmark/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def follow_current_run(service: Service, last_event_id: LastEventId = None) -> Response:
    """Follow the current run: the newest running one, else the newest queued, else the newest finished."""
    runs = list(service.runs.values())
    for wanted in ("running", "pending", None):
        candidates = [run for run in runs if wanted is None or run.status == wanted]
        if candidates:
            return sse_response(candidates[-1], last_event_id)
    raise HTTPException(404, "no run has been started since LlamaBurn started")


@router.get("/benchmark/{run_id}/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def follow_run(run_id: str, service: Service, last_event_id: LastEventId = None) -> Response:
    """Follow one run: a late client first gets every event so far."""
    if (run := service.runs.get(run_id)) is None:
        raise HTTPException(
            404, f"no live run {run_id!r}: finished runs of earlier sessions are in /api/history/{run_id}"
        )
    return sse_response(run, last_event_id)


@router.post(
    "/benchmark/{run_id}/cancel", status_code=202, response_model=CancelAccepted, responses=responses(404, 409, 503)
)
async def cancel_run(run_id: str, service: Service) -> CancelAccepted:
    """Cancel a run: its in-flight request is abandoned; completed iterations stay in history."""
    run = service.runs.get(run_id)
    if run is None:
        with engine_errors():
            record = await stored(service, run_id)
        raise HTTPException(409, f"run {record.id} is not in progress (status: {record.status})")
    if run.status not in IN_PROGRESS:
        raise HTTPException(409, f"run {run.id} is not in progress (status: {run.status})")
    service.cancel(run.id)
    return CancelAccepted(run_id=run.id, status=run.status)
