"""Runs: start one, follow it live over SSE, cancel it."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from llamaburn.api.deps import Service, stored
from llamaburn.api.errors import RunBusy, engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.api.schemas import (
    CancelAccepted,
    RunBody,
    RunStarted,
)
from llamaburn.api.sse import IN_PROGRESS, STREAM_RESPONSES, LastEventId, sse_response
from llamaburn.engine.modality import single_item_aliases
from llamaburn.engine.registry import Registry
from llamaburn.errors import (
    ComingSoonError,
    ConfigError,
    InputsError,
    ModelCapabilityError,
    NoBackendError,
    RunInProgressError,
)
from llamaburn.service.request import RunRequest


def run_request(registry: Registry, body: RunBody) -> tuple[RunRequest, dict[str, str]]:
    """The body as a ``RunRequest``: the run fields, and every other field as the modality's raw inputs.

    The run fields are checked here, each pinned to its body field; the inputs are left to the modality's
    ``Inputs`` model inside ``prepare_run``. A list field's declared single-item alias (text's ``prompt``
    for ``prompts``, from its ``--prompt`` option) stands for a one-item list; the second value says which
    body field each renamed input came from, so a 422 names what the client sent.
    """
    try:
        modality = registry.runnable(body.type)
    except (ConfigError, ComingSoonError) as exc:
        raise invalid("body", "type", str(exc)) from None
    if body.backend is not None:
        try:
            registry.backend(body.backend)
        except ConfigError as exc:
            raise invalid("body", "backend", str(exc)) from None
    if body.model_id is not None and not body.model_id.strip():
        raise invalid("body", "model_id", "must not be empty")
    inputs = {key: value for key, value in (body.model_extra or {}).items()}
    renamed: dict[str, str] = {}
    for alias, field in single_item_aliases(modality.inputs).items():
        if alias not in inputs:
            continue
        value = inputs.pop(alias)
        if value is None:
            continue
        if inputs.get(field) is not None:
            raise invalid("body", alias, f"give {alias} or {field}, not both")
        inputs[field], renamed[field] = [value], alias
    request = RunRequest(
        modality=body.type,
        inputs=inputs,
        backend=body.backend,
        url=body.url,
        api_key=body.api_key,
        read_timeout=body.read_timeout,
        model=body.model_id,
        inputs_are_json=True,
    )
    return request, renamed


def _located(problems: list[tuple[tuple[str | int, ...], str]], renamed: dict[str, str]) -> RequestValidationError:
    errors = []
    for loc, message in problems:
        head = renamed.get(str(loc[0]), loc[0]) if loc else "body"
        errors.append({"type": "value_error", "loc": ("body", head, *loc[1:]), "msg": message})
    return RequestValidationError(errors)


@router.post("/benchmark", status_code=202, response_model=RunStarted, responses=responses(400, 409, 502, 503))
async def start_benchmark(body: RunBody, service: Service) -> Any:
    """Start a run and answer at once; follow it at ``/api/benchmark/{run_id}/stream``."""
    request, renamed = run_request(service.registry, body)
    with engine_errors(model_loc=("body", "model_id")):
        try:
            run = await service.start(request, queue=body.queue, announce=True)
        except InputsError as exc:
            raise _located(exc.problems, renamed) from None
        except RunInProgressError as exc:
            return JSONResponse(RunBusy(detail=str(exc), run_id=exc.run_id).model_dump(), status_code=409)
        except NoBackendError as exc:
            raise HTTPException(503, str(exc)) from None
        except ModelCapabilityError as exc:  # a model that cannot see, for a vision modality
            raise invalid("body", "model_id", str(exc)) from None
        except ConfigError as exc:  # the backend refused its URL (the embedded one takes none)
            raise invalid("body", "url" if request.url else "backend", str(exc)) from None
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
