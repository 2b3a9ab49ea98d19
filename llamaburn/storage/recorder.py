"""Persists a run from its events, as a bus subscriber, so the measurement never waits for the database.

Database writes run in a worker thread; each iteration is committed as soon as its event arrives.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    IterationComplete,
    IterationStart,
    Token,
    WarmupComplete,
)
from llamaburn.engine.runner import Run
from llamaburn.errors import StoreError
from llamaburn.storage.store import IterationRecord, RunRecord, Store, now

log = logging.getLogger(__name__)


class Recorder:
    """Creates the run's row now, then records each iteration and the final status as they happen."""

    def __init__(
        self,
        store: Store,
        run: Run,
        backend: str,
        config: dict[str, Any],
        system: dict[str, Any],
        model_info: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.error: str | None = None
        store.create_run(
            RunRecord(
                id=run.id,
                created_at=now(),
                modality=run.modality.name,
                backend=backend,
                model=run.target.model,
                host=system.get("hostname"),
                status="running",
                config=config,
                system=system,
                model_info=model_info or {},
            )
        )
        self._subscription = run.bus.subscribe()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        run, text, prompt = self.run, list[str](), ""
        async for event in self._subscription:
            try:
                match event:
                    case Token():
                        text.append(event.text)
                    case IterationStart():
                        prompt, text = event.prompt, []
                    case WarmupComplete():
                        warmup_prompt = run.modality.prompt(run.inputs, event.current - 1)
                        await self._write(event.current, True, warmup_prompt, "".join(text), event.metrics)
                        text = []
                    case IterationComplete():
                        await self._write(event.iteration, False, prompt, "".join(text), event.metrics)
                    case Complete() | Cancelled() | Error():
                        await asyncio.to_thread(self.store.finish_run, run.id, run.status, run.summary, run.error)
            except StoreError as exc:
                log.error("run %s: %s", run.id, exc)
                self.error = str(exc)

    async def _write(self, index: int, warmup: bool, prompt: str, output: str, metrics: dict[str, Any]) -> None:
        record = IterationRecord(
            run_id=self.run.id, index=index, warmup=warmup, prompt=prompt, output=output, metrics=metrics
        )
        await asyncio.to_thread(self.store.add_iteration, record)
