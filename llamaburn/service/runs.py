"""Long-lived runs for the long-lived faces (the UI and the API), independent of any browser tab.

A run started here belongs to the process, not to the page or request that started it: it keeps going
when a tab closes and lands in history. Backends are kept open between runs, one per server, so every
run reuses the same keep-alive connection (and the embedded server is started only once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from llamaburn.backends.base import Backend, ModelEntry
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.errors import ConfigError, RunInProgressError
from llamaburn.modelinfo.info import ModelInfo
from llamaburn.modelinfo.service import ModelInfoService
from llamaburn.service.assembly import BackendPool, PreparedRun, prepare_run
from llamaburn.service.request import RunRequest
from llamaburn.service.server_lock import ServerLock
from llamaburn.service.sweeps import SweepService
from llamaburn.storage.store import Store

log = logging.getLogger(__name__)
KEPT_RUNS = 20  # finished runs kept in memory, so a late SSE client can still replay them
LOCK_POLL_S = 0.25  # how often a queued run asks again for a server another process is measuring


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _busy(run: Run) -> RunInProgressError:
    return RunInProgressError(run.target.backend.label, run.target.backend.url, run.id)


class RunService:
    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.runs: dict[str, Run] = {}
        self.backends = BackendPool(registry)
        self._tasks: set[asyncio.Task[None]] = set()
        self.model_infos = ModelInfoService(store)
        self._history_listeners: list[Callable[[], None]] = []
        self._run_listeners: list[Callable[[Run], None]] = []
        self._unsaved_listeners: list[Callable[[Run, str], None]] = []
        self.sweeps = SweepService(self)

    async def backend(self, name: str | None, url: str | None = None, api_key: str | None = None) -> Backend:
        """The service's open backend for this server (from its ``BackendPool``)."""
        return await self.backends.get(name, url, api_key)

    async def models(self, name: str | None, url: str | None = None, api_key: str | None = None) -> list[ModelEntry]:
        return await (await self.backend(name, url, api_key)).models()

    async def model_info(self, backend: Backend, model: str) -> ModelInfo:
        """What the model is, from the server, its GGUF file and Hugging Face; cached in the database."""
        return await self.model_infos.get(backend, model)

    def active(self, backend: Backend) -> Run | None:
        """The run in progress (or waiting its turn) on ``backend``, if any: a sweep's stream counts."""
        return next(
            (run for run in [*self.runs.values(), *self.sweeps.running()]
             if run.target.backend is backend and not run.done.is_set()),
            None,
        )

    def ahead(self, run: Run) -> Run | None:
        """The oldest unfinished run on ``run``'s backend that was asked for before it."""
        for other in self.runs.values():
            if other is run:
                return None
            if other.target.backend is run.target.backend and not other.done.is_set():
                return other
        return None

    async def start(
        self, request: RunRequest, *, queue: bool = False, announce: bool = False
    ) -> Run:
        """Start a run in the background and return it at once; subscribe to ``run.bus`` to follow it.

        One run at a time per server, since two runs on one server would measure each other: a busy
        backend, or a server another llamaburn process is measuring (``ServerLock``), raises
        ``RunInProgressError``, unless ``queue``, when the run waits for those before it.
        ``announce`` tells the ``on_run_announced`` listeners (open pages) about a run nobody is watching,
        one started over the API.
        """
        prepared = await prepare_run(
            request, self.registry, self.backends, self.model_infos, check=None if queue else self._refuse_busy
        )
        run = prepared.run
        lock = prepared.lock()
        if not queue:
            lock.acquire()
        self.runs[run.id] = run  # no await since the last check: nothing else can take the backend meanwhile
        task = asyncio.create_task(self._execute(prepared, lock, request.save))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if announce:
            for listener in list(self._run_listeners):
                listener(run)
        return run

    def _refuse_busy(self, backend: Backend) -> None:
        if (busy := self.active(backend)) is not None:
            raise _busy(busy)

    async def _execute(self, prepared: PreparedRun, lock: ServerLock, save: bool) -> None:
        run = prepared.run
        try:
            while (ahead := self.ahead(run)) is not None and not run.cancel_requested.is_set():
                await _first_of(ahead.done.wait(), run.cancel_requested.wait())
            while not lock.held and not run.cancel_requested.is_set():  # queued behind another process
                try:
                    lock.acquire()
                except RunInProgressError:
                    await _first_of(asyncio.sleep(LOCK_POLL_S), run.cancel_requested.wait())
            recorder = await prepared.record(self.store if save else None)
            self._history_changed()
            await run.execute()
            if recorder is not None:
                await recorder.task
                if recorder.notice is not None:
                    log.error("run %s: %s", run.id, recorder.notice)
                    for listener in list(self._unsaved_listeners):
                        listener(run, recorder.notice)
        except Exception as exc:  # the run must end in a terminal event whatever broke around it
            log.exception("run %s could not run", run.id)
            if not run.done.is_set():
                run.fail(f"the run could not start: {type(exc).__name__}: {exc}")
                run.done.set()
        finally:
            lock.release()
            self._prune()
            self._history_changed()

    def _prune(self) -> None:
        """Forget the oldest finished runs beyond ``KEPT_RUNS``; history keeps them, memory need not."""
        finished = [run_id for run_id, run in self.runs.items() if run.done.is_set()]
        for run_id in finished[: max(0, len(finished) - KEPT_RUNS)]:
            del self.runs[run_id]

    def cancel(self, run_id: str) -> Run:
        if run_id not in self.runs:
            raise ConfigError(f"no run {run_id!r} in progress")
        run = self.runs[run_id]
        run.cancel()
        return run

    def on_history_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever history changes; returns the function that unsubscribes it."""
        self._history_listeners.append(listener)
        return lambda: self._history_listeners.remove(listener)

    def on_run_announced(self, listener: Callable[[Run], None]) -> Callable[[], None]:
        """Call ``listener`` with each announced run; returns the function that unsubscribes it."""
        self._run_listeners.append(listener)
        return lambda: self._run_listeners.remove(listener)

    def on_run_unsaved(self, listener: Callable[[Run, str], None]) -> Callable[[], None]:
        """Call ``listener`` with a finished run the history database did not take, and the recorder's one-line
        notice (the file that holds the run, and the ``llamaburn import`` command); returns the unsubscriber.

        It comes after the run's final event: the recorder asks the store again for a while after the run ends.
        """
        self._unsaved_listeners.append(listener)
        return lambda: self._unsaved_listeners.remove(listener)

    def _history_changed(self) -> None:
        for listener in list(self._history_listeners):
            try:
                listener()
            except Exception:  # one broken page must not stop the others from refreshing
                log.exception("history listener failed")

    def _in_progress(self) -> list[str]:
        return [run.id for run in self.runs.values() if not run.done.is_set()]

    async def delete_run(self, run_id: str) -> None:
        """Delete a finished run; the database work runs off the event loop, so no measurement waits."""
        if run_id in self._in_progress():
            raise ConfigError(f"run {run_id} is still in progress: cancel it before deleting it")
        await asyncio.to_thread(self.store.delete_run, run_id)
        self._history_changed()

    async def clear_history(self) -> int:
        count = await asyncio.to_thread(self.store.clear, self._in_progress())
        self._history_changed()
        return count

    async def aclose(self) -> None:
        """Cancel what still runs, let it record its state, then close every backend."""
        await self.sweeps.aclose()
        for run in self.runs.values():
            run.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.backends.aclose()
        await self.model_infos.aclose()
