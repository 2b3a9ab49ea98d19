"""Sweeps for the long-lived faces (the API, the UI): started in the background, followed by their events.

A sweep here belongs to the process, like the ``RunService``'s runs, and measures through that service's
``BackendPool``, store and model info, so its streams reuse the same keep-alive connections as every run.
Its events are plain JSON documents (``cell``, then ``sweep_end`` with the knees and curves), kept so a
client that joins late replays them.
"""

from __future__ import annotations

import asyncio
import logging
import typing
from collections.abc import AsyncIterator
from typing import Any

from llamaburn.backends.base import Backend
from llamaburn.engine.runner import Run
from llamaburn.errors import LlamaBurnError, RunInProgressError, SweepBusyError
from llamaburn.service.curves import results
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweep_history import resume
from llamaburn.service.sweeper import Sweep

if typing.TYPE_CHECKING:
    from llamaburn.service.runs import RunService

log = logging.getLogger(__name__)


class LiveSweep:
    """A sweep in progress or done, with every event it has published."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.events: list[dict[str, Any]] = []
        self.done = asyncio.Event()
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.sweep.id

    def publish(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._changed.set()

    async def follow(self, skip: int = 0) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        """Every event from index ``skip`` on, as it comes, until ``sweep_end``."""
        index = skip
        while True:
            while index < len(self.events):
                yield index, self.events[index]
                index += 1
            if self.done.is_set():
                return
            self._changed.clear()
            await self._changed.wait()

    def results(self) -> dict[str, Any]:
        """The curves, heatmaps, best cells and knees of the points finished so far (``service/curves.py``),
        for a face to draw."""
        return results(self.sweep.cells_done, self.sweep.knees())

    def end_event(self, status: str) -> dict[str, Any]:
        return {"type": "sweep_end", "sweep_id": self.id, "status": status, **self.results(),
                "points": len(self.sweep.points), "cells": len(self.sweep.cells_done)}


class SweepService:
    """Starts sweeps on the ``RunService``'s backends and store, and keeps them by id."""

    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self.sweeps: dict[str, LiveSweep] = {}

    def start(self, request: SweepRequest) -> LiveSweep:
        """Validate the grid (``InputsError`` before anything is sent) and run it in the background."""
        return self._begin(Sweep(request, self.runs.registry))

    async def resume(self, sweep_id: str, api_key: str | None = None) -> LiveSweep:
        """Run the cells a cancelled or killed sweep did not finish (``service/sweep_history.py``); its
        finished cells come first among the results. ``ConfigError`` for a sweep history does not have,
        ``SweepBusyError`` for one still in progress."""
        known = self.sweeps.get(sweep_id)
        if known is not None and not known.done.is_set():
            raise SweepBusyError(f"sweep {sweep_id} is still in progress: cancel it first")
        return self._begin(await asyncio.to_thread(resume, self.runs.store, sweep_id, self.runs.registry, api_key))

    def _begin(self, sweep: Sweep) -> LiveSweep:
        live = LiveSweep(sweep)
        self.sweeps[live.id] = live
        live.task = asyncio.create_task(self._execute(live))
        return live

    async def _execute(self, live: LiveSweep) -> None:
        status = "completed"
        try:
            cells = live.sweep.cells(self.runs.backends, self.runs.store, self.runs.model_infos, self._refuse_busy)
            async for cell in cells:
                live.publish({"type": "cell", **cell.as_json()})
                if cell.status != "completed":
                    status = "failed"
            if live.sweep.cancelled:
                status = "cancelled"
        except LlamaBurnError as exc:  # refused or failed as a user is told: the one line is the message
            log.info("sweep %s ended: %s", live.id, exc)
            status = "failed"
            live.publish({"type": "error", "message": str(exc)})
        except Exception as exc:  # a sweep must end in its terminal event whatever broke
            log.exception("sweep %s failed", live.id)
            status = "failed"
            live.publish({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            live.publish(live.end_event(status))
            live.done.set()

    def running(self) -> list[Run]:
        """The streams measuring now, of every sweep: the ``RunService`` counts them as busy backends."""
        return [run for live in self.sweeps.values() for run in live.sweep.running]

    def _refuse_busy(self, backend: Backend) -> None:
        """One measurement per server: a point whose server a run of the service measures is refused."""
        busy = next((run for run in self.runs.runs.values()
                     if run.target.backend is backend and not run.done.is_set()), None)
        if busy is not None:
            raise RunInProgressError(backend.label, backend.url, busy.id)

    async def aclose(self) -> None:
        for live in self.sweeps.values():
            live.sweep.cancel()
        tasks = [live.task for live in self.sweeps.values() if live.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
