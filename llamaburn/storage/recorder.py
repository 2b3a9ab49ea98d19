"""Persists a run from its events, as a bus subscriber, so the measurement never waits for the database.

Database writes run in a worker thread; each iteration is committed as soon as its event arrives. When a
write fails (PostgreSQL restarted, the network gone, the disk full), the measurement goes on: the recorder
falls behind, keeps the whole run in memory and in a local file (``storage.spool``), and on each later
event tries to hand the store everything it missed, as ``llamaburn import`` would. Once the run has ended
it keeps asking for ``PATIENCE_S``; if the store never answers, the file stays and ``unsaved`` names it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
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
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.spool import Spool
from llamaburn.storage.store import Store, now

log = logging.getLogger(__name__)
PATIENCE_S = 10.0  # after the run ends, how long a store that does not answer is asked again
RETRY_S = 0.5


class Recorder:
    """Creates the run's row now, then records each iteration and the final status as they happen.

    A store that fails at the start refuses the run (``StoreError``), before anything is measured. After
    that, nothing measured is lost silently: ``error`` is set while the store has not got everything, and
    ``unsaved`` is the file that holds the run when the store never took it.
    """

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
        self.spool = Spool(run.id)
        record = RunRecord(
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
        self.document: dict[str, Any] = {**record.model_dump(mode="json"), "iterations": []}
        self._behind = False
        store.create_run(record)
        self._subscription = run.bus.subscribe()
        self.task = asyncio.create_task(self._consume())

    @property
    def unsaved(self) -> Path | None:
        """The file holding the run, if the store has not got all of it (``None`` with ``error`` set: no
    directory took the file either, and the run is only in memory)."""
        return self.spool.path if self._behind else None

    @property
    def notice(self) -> str | None:
        """The one line every face shows when the store has not got the whole run: where the run is and the
        command that stores it; ``None`` when history has all of it."""
        if self.error is None:
            return None
        if self.unsaved is not None:
            return (
                f"the history database did not take the run ({self.error}); it is saved in {self.unsaved}: "
                f"store it with `llamaburn import {self.unsaved}` once the database answers"
            )
        return f"the run was measured but not stored ({self.error}), and no file took it ({self.spool.error})"

    async def _consume(self) -> None:
        run, text, prompt = self.run, list[str](), ""
        async for event in self._subscription:
            match event:
                case Token():
                    text.append(event.text)
                case IterationStart():
                    prompt, text = event.prompt, []
                case WarmupComplete():
                    warmup_prompt = run.modality.prompt(run.inputs, event.current - 1)
                    await self._iteration(event.current, True, warmup_prompt, "".join(text), event.metrics)
                    text = []
                case IterationComplete():
                    await self._iteration(event.iteration, False, prompt, "".join(text), event.metrics)
                case Complete() | Cancelled() | Error():
                    await self._finish()

    async def _iteration(self, index: int, warmup: bool, prompt: str, output: str, metrics: dict[str, Any]) -> None:
        fields: dict[str, Any] = {
            "index": index, "warmup": warmup, "prompt": prompt, "output": output, "metrics": metrics
        }
        self.document["iterations"].append(fields)
        if not self._behind:
            try:
                await asyncio.to_thread(self.store.add_iteration, IterationRecord(run_id=self.run.id, **fields))
                return
            except StoreError as exc:
                await self._fall_behind(exc)
        await self._catch_up(patience_s=0)

    async def _finish(self) -> None:
        run = self.run
        self.document.update(status=run.status, summary=run.summary, error=run.error)
        if not self._behind:
            try:
                await asyncio.to_thread(self.store.finish_run, run.id, run.status, run.summary, run.error)
                return
            except StoreError as exc:
                await self._fall_behind(exc)
        await self._catch_up(patience_s=PATIENCE_S)

    async def _fall_behind(self, exc: StoreError) -> None:
        self._behind, self.error = True, str(exc)
        path = await asyncio.to_thread(self.spool.write, self.document)
        log.warning(
            "run %s: the history database failed (%s); the measurement goes on, its iterations are kept in %s",
            self.run.id, exc, path or f"memory only ({self.spool.error})",
        )

    async def _catch_up(self, patience_s: float) -> None:
        """Write the run to its file, then hand the store everything it missed, for up to ``patience_s``."""
        await asyncio.to_thread(self.spool.write, self.document)
        deadline = time.monotonic() + patience_s
        while True:
            try:
                await asyncio.to_thread(self.store.import_runs, [self.document])
            except StoreError as exc:
                self.error = str(exc)
            else:
                self._behind, self.error = False, None
                await asyncio.to_thread(self.spool.remove)
                log.warning("run %s: the history database answers again and has the whole run", self.run.id)
                return
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(RETRY_S)
