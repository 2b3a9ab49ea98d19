"""History: list, read, delete and clear stored runs, group them by host, and compare them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import HTTPException, Query, Response

from llamaburn.api.deps import Service, stored, stored_runs
from llamaburn.api.errors import engine_errors, invalid, responses
from llamaburn.api.routes import router
from llamaburn.api.schemas import (
    Cleared,
    HistoryPage,
    HostOut,
    IterationOut,
    RunDetail,
    RunOut,
)
from llamaburn.api.sse import IN_PROGRESS
from llamaburn.errors import (
    ConfigError,
)
from llamaburn.service.compare import Comparison, compare, metric_set, samples

MAX_COMPARED = 50
MAX_OFFSET = 2**62  # SQLite integers are 64-bit


@router.get("/history", response_model=HistoryPage, responses=responses(503))
async def list_history(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Runs to skip.")] = 0,
    host: Annotated[str | None, Query(max_length=255, description="Only the runs of this host.")] = None,
    sweep: Annotated[str | None, Query(max_length=64, description="Only the runs of this sweep.")] = None,
) -> HistoryPage:
    """Stored runs, newest first, a page at a time, with the total count (of ``host``'s and ``sweep``'s runs,
    if given). ``/api/sweeps`` lists the sweeps."""
    store = service.store
    with engine_errors():
        runs = await asyncio.to_thread(store.list_runs, limit, offset, host, sweep)
        total = await asyncio.to_thread(store.count_runs, host, sweep)
    return HistoryPage(
        total=total, limit=limit, offset=offset, runs=[RunOut.model_validate(run, from_attributes=True) for run in runs]
    )


@router.get("/hosts", response_model=list[HostOut], responses=responses(503))
async def list_hosts(service: Service) -> list[HostOut]:
    """History grouped by host: each host with its run count and newest run, by name (runs with no host last).
    A host's runs are ``/api/history?host=<host>``."""
    with engine_errors():
        hosts = await asyncio.to_thread(service.store.hosts)
    return [HostOut(host=entry.host, runs=entry.runs, latest=entry.latest) for entry in hosts]


@router.get("/history/{run_id}", response_model=RunDetail, responses=responses(404, 503))
async def get_history_run(run_id: str, service: Service) -> RunDetail:
    """One stored run (by id or a unique prefix of at least 4 characters) with its iterations."""
    with engine_errors():
        record = await stored(service, run_id)
        iterations = await asyncio.to_thread(service.store.iterations, record.id)
    return RunDetail(
        **RunOut.model_validate(record, from_attributes=True).model_dump(),
        iterations=[IterationOut.model_validate(it, from_attributes=True) for it in iterations],
    )


@router.delete("/history/{run_id}", status_code=204, response_class=Response, responses=responses(404, 409, 503))
async def delete_history_run(run_id: str, service: Service) -> Response:
    """Delete a finished run and its iterations; a run in progress must be cancelled first (409)."""
    with engine_errors():
        record = await stored(service, run_id)
        live = service.runs.get(record.id)
        if live is not None and live.status in IN_PROGRESS:
            raise HTTPException(409, f"run {record.id} is still in progress: cancel it before deleting it")
        try:
            await service.delete_run(record.id)
        except ConfigError as exc:  # deleted meanwhile
            raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


@router.delete("/history", response_model=Cleared, responses=responses(503))
async def clear_history(service: Service) -> Cleared:
    """Delete every stored run except those in progress."""
    with engine_errors():
        return Cleared(deleted=await service.clear_history())


@router.get("/compare", response_model=Comparison, responses=responses(404, 503))
async def compare_runs(
    service: Service,
    ids: Annotated[str, Query(description="Two or more run ids (or unique prefixes), comma-separated.")],
) -> Comparison:
    """The engine's comparison: each metric per run, the winner, and each run's difference to the first, with
    each mean's 95 % interval, Welch's test against the first run ("within noise" names no winner), and each
    run's coefficient of variation and too-short warning."""
    wanted = [part.strip() for part in ids.split(",") if part.strip()]
    if not 2 <= len(wanted) <= MAX_COMPARED:
        raise invalid("query", "ids", f"give 2 to {MAX_COMPARED} comma-separated run ids, got {len(wanted)}")
    with engine_errors():
        runs = await stored_runs(service, wanted)
        found = await asyncio.to_thread(samples, service.store, runs)
    return compare(runs, metric_set(service.registry.modalities, runs), found)
