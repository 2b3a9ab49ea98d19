"""Sweeps found again in history: the list of them (``summaries``), and one to resume (``resume``) with its
request, its finished cells, and the runs of the cell a kill or a cancel cut short.

Every run of a sweep keeps the sweep's request in ``config.sweep.request`` (its API key left out), and each
run of a finished cell its cell's result in ``config.sweep.result`` (``Sweep._run_point``). A resumed sweep
rebuilds the same grid, keeps the finished cells as they are, and measures only the others; the runs of an
unfinished cell are deleted first, so history ends with each cell exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from llamaburn.engine.registry import Registry
from llamaburn.errors import ConfigError, LlamaBurnError, SweepBusyError
from llamaburn.service.sweep import Point, SweepRequest, points
from llamaburn.service.sweeper import Cell, Sweep
from llamaburn.storage.records import RunRecord, SweepEntry
from llamaburn.storage.store import Store


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """One sweep as history has it. ``expected`` is the runs its grid makes (each point's concurrency, summed),
    ``None`` when its request no longer makes a grid here (a modality's plugin gone); ``status`` is
    ``running``, ``completed`` (every expected run completed) or ``partial`` (resuming runs what is missing,
    unless the missing runs are a finished point's failed streams)."""

    sweep_id: str
    started: datetime
    latest: datetime
    models: list[str]
    points: int | None
    expected: int | None
    runs: int
    completed: int
    status: str


def summaries(store: Store, registry: Registry, limit: int = 50) -> list[SweepSummary]:
    """The ``limit`` latest sweeps, newest first, in two queries (the grouped runs, then one run of each)."""
    entries = store.sweeps(limit)
    requests = {run.sweep_id: run.config["sweep"].get("request") for run in store.get_runs([e.a_run for e in entries])}
    return [_summary(entry, requests.get(entry.sweep_id), registry) for entry in entries]


def _summary(entry: SweepEntry, request: object, registry: Registry) -> SweepSummary:
    sweep: SweepRequest | None = None
    grid: list[Point] = []
    try:
        sweep = SweepRequest.model_validate(request)
        grid = points(sweep, registry)
    except (ValidationError, LlamaBurnError):
        sweep = None  # recorded before sweeps kept their request, or by a plugin this install lacks
    expected = sum(point.concurrency for point in grid) if sweep else None
    whole = entry.completed == (entry.runs if expected is None else expected)
    status = "running" if entry.running else "completed" if whole else "partial"
    return SweepSummary(sweep_id=entry.sweep_id, started=entry.started, latest=entry.latest,
                        models=(sweep.models or [sweep.base.model or "(the server's)"]) if sweep else [],
                        points=len(grid) if sweep else None, expected=expected, runs=entry.runs,
                        completed=entry.completed, status=status)


def finished_cells(runs: Sequence[RunRecord], total: int) -> list[Cell]:
    """The cells every one of whose streams carries the cell's result, in grid order."""
    by_cell: dict[int, list[RunRecord]] = {}
    for run in runs:
        by_cell.setdefault(int(run.config["sweep"]["cell"]), []).append(run)
    cells = []
    for index, streams in sorted(by_cell.items()):
        results = [run.config["sweep"].get("result") for run in streams]
        if any(result is None for result in results) or len(streams) != streams[0].config["sweep"]["streams"]:
            continue
        streams.sort(key=lambda run: int(run.config["sweep"]["stream"]))
        result = results[0]
        cells.append(Cell(index=index, total=total, coordinates=result["coordinates"],
                          run_ids=[run.id for run in streams], status=result["status"],
                          streams=[run.summary for run in streams], aggregate=result["aggregate"],
                          errors=result["errors"], warnings=result.get("warnings", [])))
    return cells


def resume(store: Store, sweep_id: str, registry: Registry, api_key: str | None = None) -> Sweep:
    """The sweep ``sweep_id`` as history has it, ready to run its missing cells (``Sweep.missing``); the
    runs of its unfinished cells are deleted. ``api_key`` is the server's, which history never keeps.
    ``ConfigError`` for a sweep history does not know, or one still running."""
    runs = store.sweep_runs(sweep_id)
    if not runs:
        raise ConfigError(f"no sweep {sweep_id!r} in history: `llamaburn history` lists the runs it has")
    running = next((run for run in runs if run.status == "running"), None)
    if running is not None:
        raise SweepBusyError(f"sweep {sweep_id} is still running (its run {running.id} is): cancel it first")
    if "request" not in runs[0].config["sweep"]:
        raise ConfigError(f"sweep {sweep_id} was recorded by a LlamaBurn that could not resume sweeps")
    request = SweepRequest.model_validate(runs[0].config["sweep"]["request"])
    request.base.api_key = api_key
    sweep = Sweep(request, registry, sweep_id)
    cells = finished_cells(runs, len(sweep.points))
    kept = {run_id for cell in cells for run_id in cell.run_ids}
    for run in runs:
        if run.id not in kept:
            store.delete_run(run.id)
    sweep.cells_done = cells
    return sweep
