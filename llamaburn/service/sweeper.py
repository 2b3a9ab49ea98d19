"""Runs a sweep: each point's streams at once against one server, each stream an ordinary run in history.

A point at concurrency N prepares N runs through ``prepare_run`` from one ``BackendPool``, so all N share the
backend's one keep-alive pool, and executes them as N asyncio tasks in this loop: no thread or process per
stream, so the client adds no scheduling of its own to what it measures. Each run stores the sweep's id,
the point's coordinates, its stream number and the sweep's request in its config (``config["sweep"]``);
once every stream of a point has ended, each of its runs also gets the cell's result (``result``), which
is how a resumed sweep (``service/sweep_history.py``) tells a finished cell from one a kill cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llamaburn.backends.base import Backend
from llamaburn.engine.aggregate import aggregate, knee
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.modelinfo.service import ModelInfoService
from llamaburn.service.assembly import (
    BackendPool,
    KnownServer,
    PreparedRun,
    prepare_run,
    resolve_model,
    server_version,
)
from llamaburn.service.capacity import Capacity, capacity_of, queued_streams, queueing_warning, refuse_depth
from llamaburn.service.depth import Context, context_of
from llamaburn.service.request import RunRequest
from llamaburn.service.server_lock import ServerLock
from llamaburn.service.sweep import Point, SweepRequest, points
from llamaburn.storage.store import Store


@dataclass(slots=True)
class Cell:
    """A finished point: its coordinates, its streams' runs and summaries, and what they add up to."""

    index: int
    total: int
    coordinates: dict[str, Any]
    run_ids: list[str]
    status: str
    streams: list[dict[str, dict[str, float]]]
    aggregate: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Said of the cell, not wrong with it: streams that queued past the server's slots."""

    def result(self) -> dict[str, Any]:
        """What a finished cell keeps in its runs' config, so a resumed sweep rebuilds it from history."""
        return {"coordinates": self.coordinates, "status": self.status, "aggregate": self.aggregate,
                "errors": self.errors, "warnings": self.warnings}

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "total": self.total, "run_ids": self.run_ids, **self.result(),
                "streams": self.streams}


@dataclass(frozen=True, slots=True)
class Server:
    """What ``Sweep.check_servers`` learnt for one point: its server's capacity, its depth's context, and
    its model and version, which the point's runs are not asked again (``KnownServer``)."""

    capacity: Capacity
    context: Context | None
    backend: Backend
    known: KnownServer


class Sweep:
    """One sweep: ``cells()`` runs its points in order and yields each as it finishes; ``cancel()`` stops
    the point in flight (its streams keep their finished iterations) and every point after it. ``finished``
    are the cells a resumed sweep found in history: they are not run again."""

    def __init__(
        self, request: SweepRequest, registry: Registry, sweep_id: str | None = None,
        finished: Sequence[Cell] = (),
    ) -> None:
        self.request = request
        self.registry = registry
        self.id = sweep_id or str(uuid.uuid4())
        self.points: list[Point] = points(request, registry)  # validated before any I/O
        self.cells_done: list[Cell] = sorted(finished, key=lambda cell: cell.index)
        self.cancelled = False
        self._running: list[PreparedRun] = []
        self._servers: dict[int, Server] = {}

    @property
    def running(self) -> list[Run]:
        """The streams of the point being measured now (none between points)."""
        return [prepared.run for prepared in self._running]

    @property
    def missing(self) -> list[Point]:
        """The points with no finished cell yet: all of them, unless the sweep was resumed."""
        done = {cell.index for cell in self.cells_done}
        return [point for point in self.points if point.index not in done]

    def cancel(self) -> None:
        self.cancelled = True
        for prepared in self._running:
            prepared.run.cancel()

    async def check_servers(self, backends: BackendPool, check: Callable[[Backend], None] | None = None) -> None:
        """Ask each server of the missing points, once per model, what it can take (and, once per server,
        its version), and count each depth's context with its tokenizer, before any benchmark request: a
        depth beyond the context is an ``InputsError`` at ``("depth",)`` here, so nothing is sent or stored."""
        capacities: dict[tuple[int, str], Capacity] = {}
        versions: dict[int, str | None] = {}
        models: dict[tuple[int, str | None], str] = {}
        found: list[tuple[Point, Backend, Capacity]] = []
        for point in self.missing:
            request = point.request
            backend = await backends.get(request.backend, request.url, request.api_key, request.read_timeout)
            if check is not None:
                check(backend)
            if (id(backend), request.model) not in models:
                models[id(backend), request.model] = await resolve_model(backend, request.model)
            model = models[id(backend), request.model]
            if (id(backend), model) not in capacities:
                capacities[id(backend), model] = await capacity_of(backend, model)
            if id(backend) not in versions:
                versions[id(backend)] = await server_version(backend)
            capacity = capacities[id(backend), model]
            if "depth" in point.coordinates:
                refuse_depth(capacity, point.coordinates["depth"])
            found.append((point, backend, capacity))
        contexts: dict[tuple[int, int], Context] = {}  # every depth passed: now count them
        for point, backend, capacity in found:
            depth = point.coordinates.get("depth")
            if depth is not None and (id(backend), depth) not in contexts:
                contexts[id(backend), depth] = await context_of(backend, depth)
            context = None if depth is None else contexts[id(backend), depth]
            known = KnownServer(capacity.model, versions[id(backend)])
            self._servers[point.index] = Server(capacity, context, backend, known)

    async def cells(
        self, backends: BackendPool, store: Store | None, model_infos: ModelInfoService | None = None,
        check: Callable[[Backend], None] | None = None,
    ) -> AsyncIterator[Cell]:
        """Check the servers (unless done already), then run the missing points in order, yielding each as it
        ends. ``check`` is ``prepare_run``'s: the service refuses, by it, a point whose server one of its runs
        is measuring."""
        if any(point.index not in self._servers for point in self.missing):
            await self.check_servers(backends, check)
        servers = {id(server.backend): server.backend for server in self._servers.values()}
        with contextlib.ExitStack() as held:
            for backend in servers.values():  # the sweep's own, held from its first point to its last
                held.enter_context(ServerLock(backend.label, backend.url, self.id))
            for point in self.missing:
                if self.cancelled:
                    return
                cell = await self._run_point(point, backends, store, model_infos, check)
                if cell is None:
                    return
                self.cells_done.append(cell)
                self.cells_done.sort(key=lambda done: done.index)
                yield cell

    def _request(self, point: Point) -> RunRequest:
        context = self._servers[point.index].context
        if context is None:
            return point.request
        modality = self.registry.runnable(point.request.modality)
        return point.request.model_copy(update={"inputs": modality.with_context(point.inputs, context.text)})

    async def _run_point(
        self, point: Point, backends: BackendPool, store: Store | None, model_infos: ModelInfoService | None,
        check: Callable[[Backend], None] | None,
    ) -> Cell | None:
        """The point measured, or ``None`` when the sweep was cancelled while its streams were prepared
        (nothing of it is sent or stored then)."""
        request, known = self._request(point), self._servers[point.index].known
        streams = [await prepare_run(request, self.registry, backends, model_infos, check, known)
                   for _ in range(point.concurrency)]
        stored_request = self.request.model_dump(mode="json", exclude={"base": {"api_key"}})
        for number, prepared in enumerate(streams):
            prepared.config["sweep"] = {
                "id": self.id, "cell": point.index, "coordinates": point.coordinates,
                "stream": number, "streams": point.concurrency, "request": stored_request,
            }
        if self.cancelled:
            return None
        self._running = streams  # the server lock is the sweep's (``cells``): no rival process runs between points
        recorders = [await prepared.record(store if request.save else None) for prepared in streams]
        started = time.perf_counter()
        await asyncio.gather(*(prepared.run.execute() for prepared in streams))
        wall_s = time.perf_counter() - started
        self._running = []
        await asyncio.gather(*(recorder.task for recorder in recorders if recorder is not None))
        runs = [prepared.run for prepared in streams]
        cell = self._cell(point, runs, wall_s)
        if store is not None and request.save and all(run.status != "cancelled" for run in runs):
            await asyncio.to_thread(store.finish_sweep_cell, cell.run_ids, cell.result())
        return cell

    def _cell(self, point: Point, runs: list[Run], wall_s: float) -> Cell:
        server = self._servers[point.index]
        requests = [metrics for run in runs for metrics in (*run.warmups, *run.iterations)]
        statuses = {run.status for run in runs}
        context = server.context
        depth: dict[str, Any] = {} if context is None else {"depth_source": context.source}
        if context is not None and context.source == "tokenizer":
            depth["depth_tokens"] = context.tokens
        warning = queueing_warning(server.capacity, point.concurrency)
        return Cell(
            index=point.index,
            total=len(self.points),
            coordinates={**point.coordinates, "model": runs[0].target.model},
            run_ids=[run.id for run in runs],
            status=statuses.pop() if len(statuses) == 1 else "failed",
            streams=[run.summary for run in runs],
            aggregate=aggregate(requests, wall_s, self.request.slo) | depth
            | {"server_slots": server.capacity.slots,
               "queued_streams": queued_streams(server.capacity, point.concurrency)},
            errors=[f"stream {n}: {run.error}" for n, run in enumerate(runs) if run.error],
            warnings=[warning] if warning else [],
        )

    def knees(self) -> dict[str, int | None]:
        """For each line of the throughput curve (every coordinate but concurrency), its knee."""
        lines: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for cell in self.cells_done:
            lines.setdefault(line_name(cell.coordinates), []).append(
                (int(cell.coordinates["concurrency"]), cell.aggregate)
            )
        return {name: knee(found) for name, found in lines.items()}


def line_name(coordinates: dict[str, Any], x: str = "concurrency") -> str:
    """A curve's name: the cell's coordinates on every axis but ``x`` (``"llama3 · temperature=0.7"``)."""
    rest = [f"{key}={value}" for key, value in coordinates.items() if key not in ("model", x)]
    return " · ".join([str(coordinates.get("model")), *rest])
