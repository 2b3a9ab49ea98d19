"""The REST and SSE face: start, follow and cancel runs; history, comparison, models and plugins over HTTP.

The server mounts ``router`` on NiceGUI's FastAPI app, with the engine's ``BenchmarkService`` at
``app.state.benchmarks``, so a run started here is the same ``Run`` the UI shows live and in history.
Like every face, this module only validates input, calls the engine and renders its events; in --lan mode
``llamaburn.api.auth.TokenAuth`` guards it. docs/api.md describes every endpoint.

Status codes: 422 names the field at fault in FastAPI's ``{"detail": [{"loc", "msg", "type"}]}`` form,
404 is an unknown run or model, 409 a busy backend or a run in the wrong state, 413 and 415 an upload too
large or of the wrong type, 502 a model server that cannot be reached or fails, 503 no backend found or a
history database that fails. No input gives a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from llamaburn.backends.base import Backend, usable_url
from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    IterationComplete,
    IterationStart,
    Token,
    Warmup,
    WarmupComplete,
)
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import PluginInfo, Registry
from llamaburn.engine.runner import Run
from llamaburn.errors import (
    BackendError,
    ComingSoonError,
    ConfigError,
    ModelNotFoundError,
    RunInProgressError,
    StoreError,
)
from llamaburn.modelinfo.info import ModelInfo
from llamaburn.service.assembly import Plan, plan, resolve_model
from llamaburn.service.compare import Comparison, compare, metric_set
from llamaburn.service.runs import BenchmarkService
from llamaburn.storage.store import RunRecord
from llamaburn.storage.uploads import Kind, Uploads, UploadTooLargeError, UploadTypeError, too_large

log = logging.getLogger(__name__)
IN_PROGRESS = ("pending", "running")
HEARTBEAT_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
RUN_ID_HEADER = "X-LlamaBurn-Run-Id"
MAX_COMPARED = 50
MAX_OFFSET = 2**62  # SQLite integers are 64-bit
COMMON_INPUTS = ("iterations", "warmup", "temperature", "max_tokens", "seed")
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small fields around an upload's bytes


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or Infinity, and a request may hold them (Python's JSON parser accepts both)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


class ApiRoute(APIRoute):
    """Renders validation errors itself, so every 422 reads alike whatever handlers the host app installs,
    and one that quotes a NaN from the request cannot turn into a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

        return handle


router = APIRouter(prefix="/api", tags=["llamaburn"], route_class=ApiRoute)


def get_service(request: Request) -> BenchmarkService:
    """The engine, set by the server as ``app.state.benchmarks``."""
    service = getattr(request.app.state, "benchmarks", None)
    if service is None:
        raise HTTPException(503, "the benchmark service is not set up: set app.state.benchmarks")
    return service  # type: ignore[no-any-return]


Service = Annotated[BenchmarkService, Depends(get_service)]


# Bodies and answers


def check_url(url: str | None) -> str | None:
    """Reject a server URL no HTTP client can use, before it reaches a backend; ``host:port`` is allowed."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        usable_url(url if "://" in url else f"http://{url}")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return url


class BenchmarkRequest(BaseModel):
    """A run to start. Fields a modality adds (an image modality's ``image_path``) go in the same object."""

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

    type: str = Field("text", description="The modality: one of GET /api/plugins' available modalities.")
    backend: str | None = Field(
        None,
        description="ollama, openai, embedded or a plugin's backend; default: Ollama if it answers, else embedded.",
    )
    url: str | None = Field(None, description="The server's URL; default: the backend's own (OLLAMA_HOST).")
    api_key: str | None = Field(None, description="Key for an OpenAI-compatible server; stored masked.")
    model_id: str | None = Field(None, description="The model; default: the backend's first model.")
    prompt: str | None = Field(None, description="One prompt (or give prompts).")
    prompts: list[str] | None = Field(None, description="Prompts used in turn by successive requests.")
    iterations: int | None = Field(None, description="Measured requests (modality default: 5).")
    warmup: int | None = Field(None, description="Unmeasured requests first (modality default: 1).")
    temperature: float | None = Field(None, description="Sampling temperature, 0 to 2.")
    max_tokens: int | None = Field(None, description="Most tokens per answer.")
    seed: int | None = Field(None, description="Sampling seed.")
    queue: bool = Field(False, description="If the backend is busy, wait for it instead of answering 409.")

    @field_validator("url")
    @classmethod
    def _usable_url(cls, url: str | None) -> str | None:
        return check_url(url)


class RunStarted(BaseModel):
    run_id: str
    queued: bool = Field(description="True when the run waits for another run on its backend to end.")


class Problem(BaseModel):
    detail: str


class RunBusy(BaseModel):
    detail: str
    run_id: str = Field(description="The run in progress on this backend.")


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


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    models: dict[int, type[BaseModel]] = {409: RunBusy}
    descriptions = {
        400: "The body is not readable JSON.",
        404: "No such run or model.",
        409: "A run is in progress on this backend (or the run is not in progress).",
        502: "The model server is unreachable or failed.",
        503: "No backend found, or the history database failed.",
    }
    return {code: {"model": models.get(code, Problem), "description": descriptions[code]} for code in codes}


# Errors


def invalid(where: str, field: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own form, so every validation error reads alike."""
    return RequestValidationError([{"type": "value_error", "loc": (where, field), "msg": message}])


@contextlib.contextmanager
def engine_errors(model_loc: tuple[str, str] | None = None) -> Iterator[None]:
    """Map the engine's errors to statuses; an unknown model is a 422 at ``model_loc`` if given, else a 404."""
    try:
        yield
    except ModelNotFoundError as exc:
        if model_loc is not None:
            raise invalid(*model_loc, str(exc)) from None
        raise HTTPException(404, str(exc)) from None
    except BackendError as exc:
        raise HTTPException(502, str(exc)) from None
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from None


async def open_backend(
    service: BenchmarkService, name: str | None, url: str | None, api_key: str | None, where: str
) -> Backend:
    """The service's backend for this server: 422 for a bad name or URL, 503 when none is found."""
    if name is None:
        try:
            name = await service.registry.default_backend()
        except ConfigError as exc:
            raise HTTPException(503, str(exc)) from None
    try:
        service.registry.backend(name)
    except ConfigError as exc:
        raise invalid(where, "backend", str(exc)) from None
    try:
        with engine_errors():
            return await service.backend(name, url, api_key)
    except ConfigError as exc:  # e.g. the embedded backend refuses a URL
        raise invalid(where, "url" if url else "backend", str(exc)) from None
    except (ValueError, httpx.InvalidURL) as exc:
        raise invalid(where, "url", f"not a usable server URL: {exc}") from None


# Starting runs


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


@router.post("/benchmark", status_code=202, response_model=RunStarted, responses=_responses(400, 409, 502, 503))
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


# Following and cancelling runs


def _sse_response(run: Run, last_event_id: str | None) -> Response:
    skip = int(last_event_id) + 1 if last_event_id and last_event_id.strip().isdigit() else 0
    if run.status not in IN_PROGRESS and skip >= len(run.bus.history):
        return Response(status_code=204, headers={RUN_ID_HEADER: run.id})  # tells EventSource to stop
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", RUN_ID_HEADER: run.id}
    return StreamingResponse(_sse(run, skip), media_type="text/event-stream", headers=headers)


async def _sse(run: Run, skip: int) -> AsyncIterator[str]:
    """Every event so far, then live ones, until the run's terminal event; ``id`` is the event's index."""
    subscription = run.bus.subscribe(replay=True)
    events = aiter(subscription)
    pending: asyncio.Future[Any] | None = None
    index = 0
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                yield ": keep-alive\n\n"
                continue
            finished, pending = pending, None
            try:
                event = finished.result()
            except StopAsyncIteration:
                return
            if index >= skip:
                yield f"id: {index}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"
            index += 1
    finally:  # the client is gone or the run is over
        if pending is not None:
            pending.cancel()
        subscription.close()


EVENT_MODELS = (Warmup, WarmupComplete, IterationStart, Token, IterationComplete, Complete, Cancelled, Error)
SSE_EVENT_SCHEMA = {  # one SSE event (OpenAPI 3.2's itemSchema): its data is the engine event's JSON
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "The event's index in the run, for Last-Event-ID."},
        "event": {"type": "string", "enum": [model.model_fields["type"].default for model in EVENT_MODELS]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"oneOf": [model.model_json_schema() for model in EVENT_MODELS]},
        },
    },
}
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"itemSchema": SSE_EVENT_SCHEMA}},
        "description": "One SSE event per engine event: `event: <type>`, `data: <event JSON>`.",
    },
    204: {"description": "Last-Event-ID names the final event already: nothing more will come."},
    404: {"model": Problem},
}
LastEventId = Annotated[str | None, Header(description="Resume after this event id (sent by EventSource).")]


@router.get("/benchmark/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def follow_current_run(service: Service, last_event_id: LastEventId = None) -> Response:
    """Follow the current run: the newest running one, else the newest queued, else the newest finished."""
    runs = list(service.runs.values())
    for wanted in ("running", "pending", None):
        candidates = [run for run in runs if wanted is None or run.status == wanted]
        if candidates:
            return _sse_response(candidates[-1], last_event_id)
    raise HTTPException(404, "no run has been started since LlamaBurn started")


@router.get("/benchmark/{run_id}/stream", response_class=StreamingResponse, responses=STREAM_RESPONSES)
async def follow_run(run_id: str, service: Service, last_event_id: LastEventId = None) -> Response:
    """Follow one run: a late client first gets every event so far."""
    if (run := service.runs.get(run_id)) is None:
        raise HTTPException(
            404, f"no live run {run_id!r}: finished runs of earlier sessions are in /api/history/{run_id}"
        )
    return _sse_response(run, last_event_id)


@router.post(
    "/benchmark/{run_id}/cancel", status_code=202, response_model=CancelAccepted, responses=_responses(404, 409, 503)
)
async def cancel_run(run_id: str, service: Service) -> CancelAccepted:
    """Cancel a run: its in-flight request is abandoned; completed iterations stay in history."""
    run = service.runs.get(run_id)
    if run is None:
        with engine_errors():
            record = await _stored(service, run_id)
        raise HTTPException(409, f"run {record.id} is not in progress (status: {record.status})")
    if run.status not in IN_PROGRESS:
        raise HTTPException(409, f"run {run.id} is not in progress (status: {run.status})")
    service.cancel(run.id)
    return CancelAccepted(run_id=run.id, status=run.status)


# History and comparison


async def _stored(service: BenchmarkService, run_id: str) -> RunRecord:
    """A stored run by id or unique prefix; 404 when there is none."""
    try:
        return await asyncio.to_thread(service.store.get_run, run_id)
    except ConfigError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/history", response_model=HistoryPage, responses=_responses(503))
async def list_history(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Runs to skip.")] = 0,
) -> HistoryPage:
    """Stored runs, newest first, a page at a time, with the total count."""
    store = service.store
    with engine_errors():
        runs = await asyncio.to_thread(store.list_runs, limit, offset)
        total = await asyncio.to_thread(store.count_runs)
    return HistoryPage(
        total=total, limit=limit, offset=offset, runs=[RunOut.model_validate(run, from_attributes=True) for run in runs]
    )


@router.get("/history/{run_id}", response_model=RunDetail, responses=_responses(404, 503))
async def get_history_run(run_id: str, service: Service) -> RunDetail:
    """One stored run (by id or a unique prefix of at least 4 characters) with its iterations."""
    with engine_errors():
        record = await _stored(service, run_id)
        iterations = await asyncio.to_thread(service.store.iterations, record.id)
    return RunDetail(
        **RunOut.model_validate(record, from_attributes=True).model_dump(),
        iterations=[IterationOut.model_validate(it, from_attributes=True) for it in iterations],
    )


@router.delete("/history/{run_id}", status_code=204, response_class=Response, responses=_responses(404, 409, 503))
async def delete_history_run(run_id: str, service: Service) -> Response:
    """Delete a finished run and its iterations; a run in progress must be cancelled first (409)."""
    with engine_errors():
        record = await _stored(service, run_id)
        live = service.runs.get(record.id)
        if live is not None and live.status in IN_PROGRESS:
            raise HTTPException(409, f"run {record.id} is still in progress: cancel it before deleting it")
        try:
            await service.delete_run(record.id)
        except ConfigError as exc:  # deleted meanwhile
            raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


@router.delete("/history", response_model=Cleared, responses=_responses(503))
async def clear_history(service: Service) -> Cleared:
    """Delete every stored run except those in progress."""
    with engine_errors():
        return Cleared(deleted=await service.clear_history())


@router.get("/compare", response_model=Comparison, responses=_responses(404, 503))
async def compare_runs(
    service: Service,
    ids: Annotated[str, Query(description="Two or more run ids (or unique prefixes), comma-separated.")],
) -> Comparison:
    """The engine's comparison: each metric per run, the winner, and each run's difference to the first."""
    wanted = [part.strip() for part in ids.split(",") if part.strip()]
    if not 2 <= len(wanted) <= MAX_COMPARED:
        raise invalid("query", "ids", f"give 2 to {MAX_COMPARED} comma-separated run ids, got {len(wanted)}")
    with engine_errors():
        runs = [await _stored(service, run_id) for run_id in wanted]
    return compare(runs, metric_set(service.registry.modalities, runs))


# Models and plugins

BackendQuery = Annotated[
    str | None, Query(description="ollama, openai, embedded...; default: Ollama if it answers, else embedded.")
]
UrlQuery = Annotated[str | None, Query(description="The server's URL; default: the backend's own.")]


async def _query_backend(service: BenchmarkService, backend: str | None, url: str | None) -> Backend:
    try:
        url = check_url(url)
    except ValueError as exc:
        raise invalid("query", "url", str(exc)) from None
    return await open_backend(service, backend or None, url, None, "query")


@router.get("/models", response_model=ModelList, responses=_responses(502, 503))
async def list_models(service: Service, backend: BackendQuery = None, url: UrlQuery = None) -> ModelList:
    """The models a backend offers."""
    server = await _query_backend(service, backend, url)
    with engine_errors():
        models = await server.models()
    return ModelList(
        backend=server.name,
        url=server.url,
        models=[ModelOut(id=m.id, size_bytes=m.size_bytes, details=m.details) for m in models],
    )


@router.get("/models/{model_id:path}/info", response_model=ModelDescription, responses=_responses(404, 502, 503))
async def describe_model(
    service: Service,
    model_id: Annotated[str, Path(description="The model id; it may contain '/'.")],
    backend: BackendQuery = None,
    url: UrlQuery = None,
) -> ModelDescription:
    """What one model is (size, quantization, context...), cached in the history database; 404 if absent."""
    server = await _query_backend(service, backend, url)
    with engine_errors():
        model = await resolve_model(server, model_id)
        info = await service.model_info(server, model)
    return ModelDescription(backend=server.name, url=server.url, model=model, info=info)


@router.get("/plugins", response_model=list[PluginInfo])
async def list_plugins(service: Service) -> list[PluginInfo]:
    """Every modality and backend, and every plugin that failed to load."""
    return service.registry.describe()


# Uploads


def get_uploads(request: Request) -> Uploads:
    """The server's ``app.state.uploads`` if it set one, else ``<data dir>/uploads`` with the default limit."""
    uploads = getattr(request.app.state, "uploads", None)
    return uploads if isinstance(uploads, Uploads) else Uploads()


class UploadOut(BaseModel):
    upload_id: str = Field(
        description="The stored file's server-made name: give it as the modality's file field (image_path...)."
    )
    kind: Kind
    size: int = Field(description="Bytes.")
    media_type: str = Field(description="Read from the file's content, never from its name: image/png, audio/wav...")


class FilePart:
    """The ``file`` part of a multipart body, read as the body streams in: the upload is never held in memory
    whole, and a body that cannot fit ``max_bytes`` of file is refused at that point, not after it all arrived."""

    def __init__(self, request: Request, max_bytes: int) -> None:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or not params.get(b"boundary"):
            raise invalid("body", "file", "send the file as multipart/form-data, in a field named 'file'")
        self.filename = ""
        self._body = aiter(request.stream())
        self._max_bytes = max_bytes
        self._max_body_bytes = max_bytes + MULTIPART_OVERHEAD_BYTES
        self._received = 0
        self._pending: deque[bytes] = deque()
        self._header_field = self._header_value = self._disposition = b""
        self._found = self._reading = self._done = False
        self._parser = MultipartParser(
            params[b"boundary"],
            {
                "on_part_begin": self._begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    async def find(self) -> bool:
        """Read until the ``file`` part's headers; False if the body has none."""
        while not self._found:
            if not await self._feed():
                return False
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        """The ``file`` part's bytes, as they arrive."""
        while True:
            while self._pending:
                yield self._pending.popleft()
            if self._done:
                return
            if not await self._feed():
                raise HTTPException(400, "the multipart body ended inside the file")

    async def _feed(self) -> bool:
        chunk = await anext(self._body, b"")
        if not chunk:
            return False
        self._received += len(chunk)
        if self._received > self._max_body_bytes:
            raise too_large(self._max_bytes)
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise HTTPException(400, f"the multipart body is malformed: {exc}") from None
        return True

    def _begin(self) -> None:
        self._disposition = b""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_field.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._reading = not self._found and options.get(b"name") == b"file"  # the first "file" part only
        if self._reading:
            self._found = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._reading:
            self._pending.append(bytes(data[start:end]))

    def _end(self) -> None:
        if self._reading:
            self._reading, self._done = False, True


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "The file."}},
            }
        }
    },
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The multipart body is malformed."},
    413: {"model": Problem, "description": "The file is larger than the limit (64 MiB by default)."},
    415: {"model": Problem, "description": "The file's content is none of the kind's formats."},
    507: {"model": Problem, "description": "The data directory is full or not writable."},
}


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_file(
    request: Request,
    uploads: Annotated[Uploads, Depends(get_uploads)],
    kind: Annotated[Kind, Query(description="The modality the file is for; its formats are checked by content.")],
) -> UploadOut:
    """Store a file for a file-based modality under a server-made name; the answer's ``upload_id`` is what the
    modality's file field takes. The size limit applies as the body streams in."""
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    try:
        if declared > uploads.max_bytes + MULTIPART_OVERHEAD_BYTES:  # refused before a byte of the body is read
            raise too_large(uploads.max_bytes)
        part = FilePart(request, uploads.max_bytes)
        if not await part.find():
            raise invalid("body", "file", "no field named 'file' in the multipart body")
        upload = await uploads.receive(kind, part.filename, part.chunks())
    except UploadTooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    except UploadTypeError as exc:
        raise HTTPException(415, str(exc)) from None
    except ClientDisconnect:  # nobody is left to read the answer; nothing was kept
        raise HTTPException(400, "the client disconnected during the upload") from None
    except OSError as exc:  # the data directory is full or not writable
        raise HTTPException(507, f"cannot store the upload in {uploads.directory}: {exc.strerror or exc}") from None
    return UploadOut(upload_id=upload.upload_id, kind=upload.kind, size=upload.size, media_type=upload.media_type)
