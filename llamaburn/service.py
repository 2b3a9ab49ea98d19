"""Long-lived runs for the long-lived faces (the UI and the API), independent of any browser tab.

A run started here belongs to the process, not to the page or request that started it: it keeps going
when a tab closes and lands in history. Backends are kept open between runs, one per server, so every
run reuses the same keep-alive connection (and the embedded server is started only once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from llamaburn.backends.base import Backend, ModelEntry
from llamaburn.benchmark import Plan, default_backend, resolve_model, run_config
from llamaburn.errors import ConfigError, LlamaBurnError
from llamaburn.modality import Target
from llamaburn.modelinfo import ModelInfo, ModelInfoService
from llamaburn.recorder import Recorder
from llamaburn.registry import Registry
from llamaburn.runner import Run
from llamaburn.store import Store
from llamaburn.system import snapshot

log = logging.getLogger(__name__)


class RunInProgressError(ConfigError):
    """A backend already has a run in progress; ``run_id`` names it."""

    def __init__(self, run: Run) -> None:
        super().__init__(
            f"a run is already in progress on {run.target.backend.label} at "
            f"{run.target.backend.url} ({run.id}): wait for it or cancel it"
        )
        self.run_id = run.id


class BenchmarkService:
    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.runs: dict[str, Run] = {}
        self._backends: dict[tuple[str, str | None, str | None], Backend] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.model_infos = ModelInfoService(store)
        self._history_listeners: list[Callable[[], None]] = []

    async def backend(self, name: str | None, url: str | None = None, api_key: str | None = None) -> Backend:
        """The open backend for this server, created and started on first use."""
        name = name or await default_backend()
        key = (name, url or None, api_key or None)
        if key not in self._backends:
            backend = self.registry.backend(name)(url or None, api_key=api_key or None)
            try:
                await backend.start()
            except BaseException:
                await backend.aclose()
                raise
            self._backends[key] = backend
        return self._backends[key]

    async def models(self, name: str | None, url: str | None = None, api_key: str | None = None) -> list[ModelEntry]:
        return await (await self.backend(name, url, api_key)).models()

    async def model_info(self, backend: Backend, model: str) -> ModelInfo:
        """What the model is, from the server, its GGUF file and Hugging Face; cached in the database."""
        return await self.model_infos.get(backend, model)

    def active(self, backend: Backend) -> Run | None:
        return next(
            (
                run
                for run in self.runs.values()
                if run.target.backend is backend and run.status in ("pending", "running")
            ),
            None,
        )

    async def start(self, plan: Plan, api_key: str | None = None) -> Run:
        """Start a run in the background and return it at once; subscribe to ``run.bus`` to follow it.

        One run at a time per backend: two runs on one server would measure each other.
        """
        backend = await self.backend(plan.backend, plan.url, api_key)
        if (busy := self.active(backend)) is not None:
            raise RunInProgressError(busy)
        model = await resolve_model(backend, plan.model)
        try:
            version = await backend.version()
        except LlamaBurnError:
            version = None
        run = Run(plan.modality, plan.inputs, Target(backend, model))
        info = await self.model_info(backend, model)
        recorder = Recorder(
            self.store,
            run,
            backend.name,
            run_config(plan, backend, model),
            snapshot(backend.name, backend.url, version),
            info.model_dump(mode="json"),
        )
        self.runs[run.id] = run
        task = asyncio.create_task(self._execute(run, recorder))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._history_changed()
        return run

    async def _execute(self, run: Run, recorder: Recorder) -> None:
        await run.execute()
        await recorder.task
        self._history_changed()

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

    def _history_changed(self) -> None:
        for listener in list(self._history_listeners):
            try:
                listener()
            except Exception:  # one broken page must not stop the others from refreshing
                log.exception("history listener failed")

    def _in_progress(self) -> list[str]:
        return [run.id for run in self.runs.values() if run.status in ("pending", "running")]

    def delete_run(self, run_id: str) -> None:
        if run_id in self._in_progress():
            raise ConfigError(f"run {run_id} is still in progress: cancel it before deleting it")
        self.store.delete_run(run_id)
        self._history_changed()

    def clear_history(self) -> int:
        count = self.store.clear(keep=self._in_progress())
        self._history_changed()
        return count

    async def aclose(self) -> None:
        """Cancel what still runs, let it record its state, then close every backend."""
        for run in self.runs.values():
            run.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
        await self.model_infos.aclose()
