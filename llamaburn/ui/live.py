"""The live output panel: progress, the streaming text, what each iteration made (as its modality's
``artifact`` declares), an event log and each iteration's metrics.

It drains its run subscription on a 10 Hz timer and redraws once per tick, however many tokens arrived:
the runner never waits for the browser, and the browser gets at most ten updates a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from llamaburn.engine.bus import Subscription
from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    Event,
    IterationComplete,
    IterationStart,
    Token,
    Warmup,
    WarmupComplete,
)
from llamaburn.engine.format import iteration_value, metric_line
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE, Artifact
from llamaburn.engine.runner import Run
from llamaburn.ui.artifact import ArtifactView
from llamaburn.ui.pictures import SentPictures

REFRESH_S = 0.1
ITERATION_COLUMN = {"name": "iteration", "label": "#", "field": "iteration"}


def iteration_columns(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    """The iteration table's columns: the number, then each headline metric by its label."""
    return [ITERATION_COLUMN, *({"name": m.name, "label": m.label, "field": m.name} for m in metrics[:HEADLINE])]


def iteration_row(iteration: int, values: dict[str, Any], metrics: Sequence[Metric]) -> dict[str, Any]:
    """A row of the iteration table: each headline metric's number, or its outcome word (``valid``)."""
    return {"iteration": iteration, **{m.name: iteration_value(values.get(m.name), m) for m in metrics[:HEADLINE]}}


class LivePanel:
    def __init__(self, on_end: Callable[[Run], None]) -> None:
        self.on_end = on_end
        self.run: Run | None = None
        self._subscription: Subscription | None = None
        self._text: list[str] = []
        self._thinking: list[str] = []
        with ui.card().classes("w-full"):
            with ui.row().classes("w-full items-baseline gap-4"):
                self.progress = ui.label("Idle").classes("text-lg font-medium").mark("live-progress")
                self.prompt = ui.label("").classes("text-gray-500 truncate flex-1").mark("live-prompt")
            self.bar = ui.linear_progress(value=0, show_value=False).mark("live-bar")
            with ui.scroll_area().classes("w-full h-64 border border-gray-200 rounded bg-gray-50"):
                # A reasoning model's thinking, dimmed above its answer.
                self.thought = ui.label("").classes("whitespace-pre-wrap font-mono text-xs p-2 text-gray-400 italic")
                self.thought.mark("live-thinking").set_visibility(False)
                self.output = ui.label("").classes("whitespace-pre-wrap font-mono text-sm p-2").mark("live-text")
            self.sent = SentPictures()  # a vision run's pictures, from its first completed request on
            self.artifact = ArtifactView()
            self.iterations = ui.table(columns=iteration_columns(()), rows=[], row_key="iteration")
            self.iterations.classes("w-full").props("dense flat").mark("live-iterations")
            self.log = ui.log(max_lines=500).classes("w-full h-40 text-xs").mark("event-log")
            self.notice = ui.label("").classes("text-sm text-red-700").mark("unsaved-notice")
            self.notice.set_visibility(False)
        ui.timer(REFRESH_S, self.refresh)

    @property
    def following(self) -> bool:
        """Whether a run is live here: from ``follow()`` until its end has been shown."""
        return self._subscription is not None

    def follow(self, run: Run) -> None:
        """Show ``run`` from its first event on (a replay, so nothing published before now is missed)."""
        self.run = run
        self._subscription = run.bus.subscribe(replay=True)
        self._text, self._thinking = [], []
        self.iterations.columns = iteration_columns(run.modality.metrics)
        self.iterations.rows = []
        self.artifact.clear()
        self.sent.clear()
        self.notice.set_visibility(False)
        self.progress.set_text("Starting…")

    def unsaved(self, notice: str) -> None:
        """Say, under the run, that history did not take it: the service's notice names its file and command."""
        self.notice.set_text(notice)
        self.notice.set_visibility(True)
        self.log.push(f"error: {notice}")
        ui.notify(notice, type="negative", multi_line=True)

    def refresh(self) -> None:
        if self._subscription is None:
            return
        events = self._subscription.drain()
        for event in events:
            self._apply(event)
        if events:
            self.thought.set_text("".join(self._thinking))
            self.thought.set_visibility(bool(self._thinking))
            self.output.set_text("".join(self._text))
            self.iterations.update()

    def _apply(self, event: Event) -> None:
        match event:
            case Warmup():
                self._text, self._thinking = [], []
                self.progress.set_text(f"Warmup {event.current}/{event.total}")
                self.log.push(f"warmup {event.current}/{event.total}")
            case WarmupComplete():
                self.sent.show(event.metrics)
                self.log.push(f"warmup {event.current} done: {metric_line(event.metrics, self._metrics())}")
            case IterationStart():
                self._text, self._thinking = [], []
                self.progress.set_text(f"Iteration {event.iteration}/{event.total}")
                self.prompt.set_text(event.prompt)
                self.artifact.clear()
                self.bar.set_value((event.iteration - 1) / event.total)
                self.log.push(f"iteration {event.iteration}/{event.total} started")
            case Token(thinking=True):
                self._thinking.append(event.text)
            case Token():
                self._text.append(event.text)
            case IterationComplete():
                self.iterations.rows.append(iteration_row(event.iteration, event.metrics, self._metrics()))
                self.sent.show(event.metrics)
                if (artifact := self._modality_artifact()) is not None:
                    self.artifact.show(artifact, event.metrics)
                self.log.push(f"iteration {event.iteration} complete: {metric_line(event.metrics, self._metrics())}")
            case Complete():
                self.bar.set_value(1)
                self.progress.set_text("Complete")
                self.log.push("run complete")
                self._end()
            case Cancelled():
                self.progress.set_text("Cancelled")
                self.log.push("run cancelled: completed iterations are kept")
                ui.notify("Run cancelled; completed iterations are kept in history", type="warning")
                self._end()
            case Error():
                self.progress.set_text("Failed")
                self.log.push(f"error: {event.message}")
                ui.notify(event.message, type="negative", multi_line=True)
                self._end()

    def _metrics(self) -> Sequence[Metric]:
        assert self.run is not None
        return self.run.modality.metrics

    def _modality_artifact(self) -> Artifact | None:
        assert self.run is not None
        return self.run.modality.artifact

    def _end(self) -> None:
        assert self.run is not None and self._subscription is not None
        self._subscription.close()
        self._subscription = None
        self.on_end(self.run)
