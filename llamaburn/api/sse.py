"""Server-sent events: a run's engine events as an SSE stream, replayed from Last-Event-ID, with heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Header, Response
from fastapi.responses import StreamingResponse

from llamaburn.api.errors import Problem
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
from llamaburn.engine.runner import Run

IN_PROGRESS = ("pending", "running")
HEARTBEAT_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
RUN_ID_HEADER = "X-LlamaBurn-Run-Id"


def sse_response(run: Run, last_event_id: str | None) -> Response:
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
