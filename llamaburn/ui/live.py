"""The live output panel: progress, the streaming text, an event log and each iteration's metrics.

It drains its run subscription on a 10 Hz timer and redraws once per tick, however many tokens arrived:
the runner never waits for the browser, and the browser gets at most ten updates a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from llamaburn.bus import Subscription
from llamaburn.events import (
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
from llamaburn.runner import Run
from llamaburn.ui.format import number

REFRESH_S = 0.1
ITERATION_COLUMNS = [
    {"name": "iteration", "label": "#", "field": "iteration"},
    {"name": "tps", "label": "TPS", "field": "tps"},
    {"name": "ttft", "label": "TTFT", "field": "ttft"},
    {"name": "itl", "label": "ITL p50", "field": "itl"},
    {"name": "total", "label": "Total", "field": "total"},
    {"name": "tokens", "label": "Tokens", "field": "tokens"},
]


def _row(iteration: int, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "tps": number(metrics.get("tps"), "tok/s"),
        "ttft": number(metrics.get("ttft_ms"), "ms"),
        "itl": number(metrics.get("itl_ms_p50"), "ms"),
        "total": number(metrics.get("total_ms"), "ms"),
        "tokens": number(metrics.get("output_tokens")),
    }


class LivePanel:
    def __init__(self, on_end: Callable[[Run], None]) -> None:
        self.on_end = on_end
        self.run: Run | None = None
        self._subscription: Subscription | None = None
        self._text: list[str] = []
        with ui.card().classes("w-full"):
            with ui.row().classes("w-full items-baseline gap-4"):
                self.progress = ui.label("Idle").classes("text-lg font-medium").mark("live-progress")
                self.prompt = ui.label("").classes("text-gray-500 truncate flex-1").mark("live-prompt")
            self.bar = ui.linear_progress(value=0, show_value=False).mark("live-bar")
            with ui.scroll_area().classes("w-full h-64 border border-gray-200 rounded bg-gray-50"):
                self.output = ui.label("").classes("whitespace-pre-wrap font-mono text-sm p-2").mark("live-text")
            self.iterations = ui.table(columns=ITERATION_COLUMNS, rows=[], row_key="iteration")
            self.iterations.classes("w-full").props("dense flat").mark("live-iterations")
            self.log = ui.log(max_lines=500).classes("w-full h-40 text-xs").mark("event-log")
        ui.timer(REFRESH_S, self.refresh)

    def follow(self, run: Run) -> None:
        """Show ``run`` from its first event on (a replay, so nothing published before now is missed)."""
        self.run = run
        self._subscription = run.bus.subscribe(replay=True)
        self._text = []
        self.iterations.rows = []
        self.progress.set_text("Starting…")

    def refresh(self) -> None:
        if self._subscription is None:
            return
        events = self._subscription.drain()
        for event in events:
            self._apply(event)
        if events:
            self.output.set_text("".join(self._text))
            self.iterations.update()

    def _apply(self, event: Event) -> None:
        match event:
            case Warmup():
                self._text = []
                self.progress.set_text(f"Warmup {event.current}/{event.total}")
                self.log.push(f"warmup {event.current}/{event.total}")
            case WarmupComplete():
                self.log.push(f"warmup {event.current} done: {number(event.metrics.get('tps'), 'tok/s')}")
            case IterationStart():
                self._text = []
                self.progress.set_text(f"Iteration {event.iteration}/{event.total}")
                self.prompt.set_text(event.prompt)
                self.bar.set_value((event.iteration - 1) / event.total)
                self.log.push(f"iteration {event.iteration}/{event.total} started")
            case Token():
                self._text.append(event.text)
            case IterationComplete():
                row = _row(event.iteration, event.metrics)
                self.iterations.rows.append(row)
                self.log.push(
                    f"iteration {event.iteration} complete: TPS {row['tps']}, TTFT {row['ttft']}, "
                    f"ITL p50 {row['itl']}, {row['tokens']} tokens"
                )
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

    def _end(self) -> None:
        assert self.run is not None and self._subscription is not None
        self._subscription.close()
        self._subscription = None
        self.on_end(self.run)
