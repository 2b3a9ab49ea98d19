"""Runs one benchmark: warmups, then measured iterations, publishing typed events as it goes.

The runner never waits for a subscriber: ``EventBus.publish`` only enqueues. A cancel cancels the task
that holds the in-flight request, which closes its HTTP stream at once; completed iterations are kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Literal

from llamaburn.engine.bus import EventBus
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
from llamaburn.engine.metrics import summarize
from llamaburn.engine.modality import Inputs, Modality, Target
from llamaburn.engine.telemetry import Sampler, SharedSampler, summary
from llamaburn.errors import LlamaBurnError

log = logging.getLogger(__name__)
Status = Literal["pending", "running", "completed", "cancelled", "failed"]


class TextSink:
    """The ``on_text`` a modality gets: call it with answer text, and ``thinking()`` with thinking text, which
    the faces show apart. ``measure_stream`` finds ``thinking`` by name, so a plain callable (a plugin's own
    test) still works: all text then goes to it. Each token carries ``at_ms``, its time since the sink was made
    (just before the request), for the faces' live rate chart; the metrics keep their own clock readings."""

    def __init__(self, bus: EventBus) -> None:
        self._publish = bus.publish
        self._started = time.perf_counter()

    def __call__(self, text: str) -> None:
        self._publish(Token(text=text, at_ms=(time.perf_counter() - self._started) * 1000))

    def thinking(self, text: str) -> None:
        self._publish(Token(text=text, thinking=True, at_ms=(time.perf_counter() - self._started) * 1000))


class Run:
    """One benchmark run. Subscribe to ``bus`` before ``execute()`` to see every event.

    ``telemetry``, when set before ``execute()``, samples the machine for the run's whole life; each
    iteration's metrics then hold its samples' summary (``engine/telemetry.py``).
    """

    def __init__(self, modality: Modality, inputs: Inputs, target: Target, run_id: str | None = None) -> None:
        self.id = run_id or str(uuid.uuid4())
        self.modality = modality
        self.inputs = inputs
        self.target = target
        self.bus = EventBus()
        self.status: Status = "pending"
        self.error: str | None = None
        self.warmups: list[dict[str, Any]] = []
        self.iterations: list[dict[str, Any]] = []
        self.summary: dict[str, dict[str, float]] = {}
        self.cancel_requested = asyncio.Event()
        self.done = asyncio.Event()
        self._inflight: asyncio.Task[dict[str, Any]] | None = None
        self.telemetry: Sampler | SharedSampler | None = None

    @property
    def reconnects(self) -> int:
        """Requests of the counted iterations sent again on a fresh connection after the server dropped
        the first attempt unanswered (``reconnects`` in each iteration's metrics; docs/metrics.md)."""
        return sum(int(metrics.get("reconnects") or 0) for metrics in self.iterations)

    def cancel(self) -> None:
        """Stop the run: the in-flight request is abandoned and its stream closed right away."""
        self.cancel_requested.set()
        if self._inflight is not None:
            self._inflight.cancel()

    async def execute(self) -> Run:
        """Run to the end and return ``self``; failures end in status ``failed``, never in an exception.

        An outside cancellation of the calling task (Ctrl-C) is recorded as ``cancelled`` and re-raised.
        """
        self.status = "running"
        if self.telemetry is not None:
            self.telemetry.start()
        try:
            if self.cancel_requested.is_set():  # cancelled before it began (a queued run): nothing to measure
                raise asyncio.CancelledError
            await self._measure_all()
        except asyncio.CancelledError:
            self._finish_cancelled()
            if not self.cancel_requested.is_set():
                raise
        except LlamaBurnError as exc:
            self.fail(str(exc))
        except Exception as exc:  # a plugin bug must end the run cleanly, not kill the app
            log.exception("run %s failed", self.id)
            self.fail(f"{type(exc).__name__}: {exc}")
        finally:
            if self.telemetry is not None:
                self.telemetry.stop()
            self.done.set()
        return self

    async def _measure_all(self) -> None:
        inputs, total = self.inputs, self.inputs.iterations
        for current in range(1, inputs.warmup + 1):
            prompt = self.modality.prompt(inputs, current - 1)
            self.bus.publish(Warmup(current=current, total=inputs.warmup, prompt=prompt))
            metrics = await self._measure(prompt)
            self.warmups.append(metrics)
            self.bus.publish(WarmupComplete(current=current, total=inputs.warmup, metrics=metrics))
        for iteration in range(1, total + 1):
            prompt = self.modality.prompt(inputs, inputs.warmup + iteration - 1)
            self.bus.publish(IterationStart(iteration=iteration, total=total, prompt=prompt))
            metrics = await self._measure(prompt)
            self.iterations.append(metrics)
            self.bus.publish(IterationComplete(iteration=iteration, metrics=metrics))
        self.summary = summarize(self.iterations)
        self.status = "completed"
        self.bus.publish(Complete(summary=self.summary))

    async def _measure(self, prompt: str) -> dict[str, Any]:
        if self.cancel_requested.is_set():
            raise asyncio.CancelledError
        started = time.perf_counter()
        self._inflight = asyncio.ensure_future(
            self.modality.measure(self.inputs, prompt, self.target, TextSink(self.bus))
        )
        try:
            metrics = await self._inflight
        finally:
            self._inflight = None
        if self.telemetry is None:
            return metrics
        ended = time.perf_counter()  # after the answer: reading the samples costs the measurement nothing
        return metrics | summary(self.telemetry.window(started, ended), started, ended, metrics.get("output_tokens"))

    def _finish_cancelled(self) -> None:
        self.status = "cancelled"
        self.summary = self._safe_summary()
        self.bus.publish(Cancelled())

    def fail(self, message: str) -> None:
        """End the run as failed with ``message``, from inside or from its owner (a setup that broke)."""
        self.status = "failed"
        self.error = message
        self.summary = self._safe_summary()
        self.bus.publish(Error(message=message))

    def _safe_summary(self) -> dict[str, dict[str, float]]:
        """The summary of the completed iterations, or ``{}`` if it cannot be made: a run that ends must
        publish its terminal event, or history keeps it ``running`` and every stream waits forever."""
        try:
            return summarize(self.iterations)
        except Exception:  # a plugin's odd metrics; the iterations themselves are already stored
            log.exception("run %s: its summary failed", self.id)
            return {}
