"""Runs a sweep: each point's streams at once against one server, each stream an ordinary run in history.

A point at concurrency N prepares N runs through ``prepare_run`` from one ``BackendPool``, so all N share the
backend's one keep-alive pool, and executes them as N asyncio tasks in this loop: no thread or process per
stream, so the client adds no scheduling of its own to what it measures. Each run stores the sweep's id,
the point's coordinates and its stream number in its config (``config["sweep"]``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from llamaburn.backends.base import Backend
from llamaburn.engine.aggregate import aggregate, knee
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.modelinfo.service import ModelInfoService
from llamaburn.service.assembly import BackendPool, PreparedRun, prepare_run
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

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "total": self.total, "coordinates": self.coordinates, "run_ids": self.run_ids,
            "status": self.status, "errors": self.errors, "aggregate": self.aggregate, "streams": self.streams,
        }


class Sweep:
    """One sweep: ``cells()`` runs its points in order and yields each as it finishes; ``cancel()`` stops
    the point in flight (its streams keep their finished iterations) and every point after it."""

    def __init__(self, request: SweepRequest, registry: Registry, sweep_id: str | None = None) -> None:
        self.request = request
        self.registry = registry
        self.id = sweep_id or str(uuid.uuid4())
        self.points: list[Point] = points(request, registry)  # validated before any I/O
        self.cells_done: list[Cell] = []
        self.cancelled = False
        self._running: list[PreparedRun] = []

    @property
    def running(self) -> list[Run]:
        """The streams of the point being measured now (none between points)."""
        return [prepared.run for prepared in self._running]

    def cancel(self) -> None:
        self.cancelled = True
        for prepared in self._running:
            prepared.run.cancel()

    async def cells(
        self, backends: BackendPool, store: Store | None, model_infos: ModelInfoService | None = None,
        check: Callable[[Backend], None] | None = None,
    ) -> AsyncIterator[Cell]:
        """Run the points in order, yielding each as it ends. ``check`` is ``prepare_run``'s: the service
        refuses, by it, a point whose server one of its runs is measuring."""
        for point in self.points:
            if self.cancelled:
                return
            cell = await self._run_point(point, backends, store, model_infos, check)
            if cell is None:
                return
            self.cells_done.append(cell)
            yield cell

    async def _run_point(
        self, point: Point, backends: BackendPool, store: Store | None, model_infos: ModelInfoService | None,
        check: Callable[[Backend], None] | None,
    ) -> Cell | None:
        """The point measured, or ``None`` when the sweep was cancelled while its streams were prepared
        (nothing of it is sent or stored then)."""
        streams = [await prepare_run(point.request, self.registry, backends, model_infos, check)
                   for _ in range(point.concurrency)]
        for number, prepared in enumerate(streams):
            prepared.config["sweep"] = {
                "id": self.id, "cell": point.index, "coordinates": point.coordinates,
                "stream": number, "streams": point.concurrency,
            }
        if self.cancelled:
            return None
        self._running = streams
        with streams[0].lock():  # one lock per server: the streams are this process's, not a rival's
            recorders = [await prepared.record(store if point.request.save else None) for prepared in streams]
            started = time.perf_counter()
            await asyncio.gather(*(prepared.run.execute() for prepared in streams))
            wall_s = time.perf_counter() - started
        self._running = []
        await asyncio.gather(*(recorder.task for recorder in recorders if recorder is not None))
        runs = [prepared.run for prepared in streams]
        requests = [metrics for run in runs for metrics in (*run.warmups, *run.iterations)]
        statuses = {run.status for run in runs}
        return Cell(
            index=point.index,
            total=len(self.points),
            coordinates={**point.coordinates, "model": runs[0].target.model},
            run_ids=[run.id for run in runs],
            status=statuses.pop() if len(statuses) == 1 else "failed",
            streams=[run.summary for run in runs],
            aggregate=aggregate(requests, wall_s, self.request.slo)
            | ({"depth_source": "estimate"} if "depth" in point.coordinates else {}),
            errors=[f"stream {n}: {run.error}" for n, run in enumerate(runs) if run.error],
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
