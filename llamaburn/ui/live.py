"""The live run: progress, the streaming text, the live charts (tokens/s over this iteration with its TTFT
marker, a strip of each iteration's headline metric, the machine's telemetry), what each iteration made (as its
modality's ``artifact`` declares), each iteration's metrics and an event log.

It drains its run subscription on a 10 Hz timer and redraws once per tick, however many tokens arrived, and
reads the telemetry sampler's samples on the same tick: the runner never waits for the browser, and the
browser gets at most ten updates a second. A modality's own live widgets (pictures, a transcript) go in
``media``, under the text.
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
from llamaburn.engine.format import iteration_value, metric_line, number, titled
from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE, Artifact
from llamaburn.engine.runner import Run
from llamaburn.engine.telemetry import Sample
from llamaburn.service.live_charts import rate_chart, strip_chart, telemetry_chart, token_rate
from llamaburn.ui.artifact import ArtifactView
from llamaburn.ui.pictures import SentPictures
from llamaburn.ui.theme import Chart
from llamaburn.ui.transcript import TranscriptView

REFRESH_S = 0.1
TITLE = "LlamaBurn"
IDLE_HINT = "press Run (Ctrl+Enter) to benchmark the model chosen on the left; Esc cancels"
SHOWN_SAMPLES = 240  # the telemetry chart's last minute at 250 ms
ITERATION_COLUMN = {"name": "iteration", "label": "#", "field": "iteration"}


def iteration_columns(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    """The iteration table's columns: the number, then each headline metric by its label and unit."""
    return [ITERATION_COLUMN, *({"name": m.name, "label": titled(m), "field": m.name} for m in metrics[:HEADLINE])]


def iteration_row(iteration: int, values: dict[str, Any], metrics: Sequence[Metric]) -> dict[str, Any]:
    """A row of the iteration table: each headline metric's number, or its outcome word (``valid``)."""
    return {"iteration": iteration, **{m.name: iteration_value(values.get(m.name), m) for m in metrics[:HEADLINE]}}


def machine_line(sample: Sample, j_per_token: float | None) -> str:
    """What the run costs the machine right now, as one line; only what was sampled is named."""
    cores = "/".join(f"{pct:.0f}" for pct in sample.per_core_pct)
    parts = [f"CPU {number(sample.cpu_pct, '%', 0)} (cores {cores} %)", f"RAM {number(sample.ram_used_mib, 'MiB', 0)}"]
    if sample.server_rss_mib is not None:
        parts.append(f"server {number(sample.server_rss_mib, 'MiB', 0)} RSS, {number(sample.server_cpu_pct, '%', 0)}")
    gpu = [
        number(value, unit, 0)
        for value, unit in ((sample.gpu_util_pct, "%"), (sample.vram_used_mib, "MiB"), (sample.gpu_power_w, "W"),
                            (sample.gpu_temp_c, "°C"))
        if value is not None
    ]
    if gpu:
        parts.append("GPU " + ", ".join(gpu))
    if j_per_token is not None:
        parts.append(f"{number(j_per_token, 'J/token', 2)}")
    return " · ".join(parts)


class LivePanel:
    def __init__(self, on_end: Callable[[Run], None]) -> None:
        self.on_end = on_end
        self.run: Run | None = None
        self._subscription: Subscription | None = None
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._arrivals_ms: list[float] = []
        self._ttft_ms: float | None = None
        self._strip: list[float | None] = []
        self._total = 0
        self._samples_drawn = 0
        self._j_per_token: float | None = None
        with ui.card().classes("w-full") as self.card:
            with ui.row().classes("w-full items-baseline gap-4 no-wrap"):
                self.progress = ui.label("Idle").classes("text-lg font-medium").mark("live-progress")
                self.prompt = ui.label(IDLE_HINT).classes("text-gray-500 truncate flex-1 min-w-0").mark("live-prompt")
            with ui.column().classes("w-full gap-2 p-0") as self.body:  # until a run: only the line above
                self.bar = ui.linear_progress(value=0, show_value=False).mark("live-bar")
                with ui.element("div").classes("w-full grid grid-cols-1 lg:grid-cols-2 gap-4"):
                    with ui.column().classes("w-full gap-2 min-w-0"):
                        with ui.scroll_area().classes("w-full h-72 border border-gray-500/30 rounded"):
                            # A reasoning model's thinking, dimmed above its answer.
                            self.thought = ui.label("").classes("whitespace-pre-wrap font-mono text-xs p-2 opacity-60")
                            self.thought.classes("italic").mark("live-thinking").set_visibility(False)
                            self.output = ui.label("").classes("whitespace-pre-wrap font-mono text-sm p-2")
                            self.output.mark("live-text")
                        self.media = ui.column().classes("w-full gap-2").mark("live-media")  # a modality's own widgets
                        with self.media:
                            self.sent = SentPictures()  # a vision run's pictures, from its first completed request on
                            self.transcript = TranscriptView()
                    with ui.column().classes("w-full gap-2 min-w-0"):
                        self.rate = Chart(rate_chart([], None)).classes("w-full h-44").mark("live-rate-chart")
                        self.strip = Chart(strip_chart("", "", [], 0)).classes("w-full h-36").mark("live-strip-chart")
                with ui.element("div").classes("w-full grid grid-cols-1 lg:grid-cols-2 gap-4 items-center"):
                    self.machine = ui.label("").classes("text-sm").mark("live-machine")
                    self.machine_chart = Chart(telemetry_chart([], 0)).classes("w-full h-36").mark("live-machine-chart")
                self.artifact = ArtifactView()
                self.iterations = ui.table(columns=iteration_columns(()), rows=[], row_key="iteration")
                self.iterations.classes("w-full").props("dense flat").mark("live-iterations")
            with ui.expansion("Event log", icon="list").classes("w-full").props("dense"):
                self.log = ui.log(max_lines=500).classes("w-full h-40 text-xs").mark("event-log")
            self.notice = ui.label("").classes("text-sm text-red-700").mark("unsaved-notice")
            self.notice.set_visibility(False)
        self.body.set_visibility(False)  # no empty text box or chart before a run: the page shows the last result
        ui.timer(REFRESH_S, self.refresh)

    @property
    def following(self) -> bool:
        """Whether a run is live here: from ``follow()`` until its end has been shown."""
        return self._subscription is not None

    def follow(self, run: Run) -> None:
        """Show ``run`` from its first event on (a replay, so nothing published before now is missed)."""
        self.run = run
        self._subscription = run.bus.subscribe(replay=True)
        self._text, self._thinking, self._arrivals_ms, self._ttft_ms = [], [], [], None
        self._strip, self._total, self._samples_drawn, self._j_per_token = [], run.inputs.iterations, 0, None
        self.iterations.columns = iteration_columns(run.modality.metrics)
        self.iterations.rows = []
        self.artifact.clear()
        self.sent.clear()
        self.transcript.follow(run)
        self.notice.set_visibility(False)
        self.progress.set_text("Starting…")
        self.body.set_visibility(True)
        self._draw_strip()

    def unsaved(self, notice: str) -> None:
        """Say, under the run, that history did not take it: the service's notice names its file and command."""
        self.notice.set_text(notice)
        self.notice.set_visibility(True)
        self.log.push(f"error: {notice}")
        ui.notify(notice, type="negative", multi_line=True)

    def refresh(self) -> None:
        if self._subscription is None:
            return
        self._draw_machine()
        events = self._subscription.drain()
        for event in events:
            self._apply(event)
        if events:
            self.thought.set_text("".join(self._thinking))
            self.thought.set_visibility(bool(self._thinking))
            self.output.set_text("".join(self._text))
            self.iterations.update()
            self._draw_rate()

    def _apply(self, event: Event) -> None:
        match event:
            case Warmup():
                self._start_answer()
                self.progress.set_text(f"Warmup {event.current}/{event.total}")
                ui.page_title(f"warmup {event.current}/{event.total} · {TITLE}")
                self.log.push(f"warmup {event.current}/{event.total}")
            case WarmupComplete():
                self.sent.show(event.metrics)
                self.log.push(f"warmup {event.current} done: {metric_line(event.metrics, self._metrics())}")
            case IterationStart():
                self._start_answer()
                self.progress.set_text(f"Iteration {event.iteration}/{event.total}")
                ui.page_title(f"{event.iteration}/{event.total} · {TITLE}")
                self.prompt.set_text(event.prompt)
                self.artifact.clear()
                self.transcript.clear()
                self.bar.set_value((event.iteration - 1) / event.total)
                self.log.push(f"iteration {event.iteration}/{event.total} started")
            case Token(thinking=True):
                self._thinking.append(event.text)
                self._arrived(event)
            case Token():
                self._text.append(event.text)
                self._arrived(event)
            case IterationComplete():
                self.iterations.rows.append(iteration_row(event.iteration, event.metrics, self._metrics()))
                self.sent.show(event.metrics)
                if (artifact := self._modality_artifact()) is not None:
                    self.artifact.show(artifact, event.metrics)
                self.transcript.show(self.run, event.metrics)
                self._ttft_ms = event.metrics.get("ttft_ms", self._ttft_ms)  # the measured one, exact
                self._j_per_token = event.metrics.get("j_per_token")
                self._draw_machine(force=True)
                headline = self._metrics()[0] if self._metrics() else None
                self._strip.append(event.metrics.get(headline.name) if headline else None)
                self._draw_strip()
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

    def _start_answer(self) -> None:
        self._text, self._thinking, self._arrivals_ms, self._ttft_ms = [], [], [], None

    def _arrived(self, token: Token) -> None:
        if token.at_ms is not None:
            if not self._arrivals_ms:
                self._ttft_ms = token.at_ms
            self._arrivals_ms.append(token.at_ms)

    def _draw_rate(self) -> None:
        self.rate.options.clear()
        self.rate.options.update(rate_chart(token_rate(self._arrivals_ms), self._ttft_ms))
        self.rate.update()

    def _draw_strip(self) -> None:
        metrics = self._metrics() if self.run is not None else ()
        label, unit = (metrics[0].label, metrics[0].unit) if metrics else ("", "")
        self.strip.options.clear()
        self.strip.options.update(strip_chart(label, unit, self._strip, self._total))
        self.strip.update()

    def _draw_machine(self, force: bool = False) -> None:
        """Redraw the telemetry when the sampler has added a sample (every 250 ms), not on every tick, or when
        an iteration's energy per token came (``force``)."""
        sampler = self.run.telemetry if self.run is not None else None
        if sampler is None or not sampler.samples or (len(sampler.samples) == self._samples_drawn and not force):
            return
        samples = sampler.samples[-SHOWN_SAMPLES:]
        self._samples_drawn = len(sampler.samples)
        self.machine.set_text(machine_line(samples[-1], self._j_per_token))
        self.machine_chart.options.clear()
        self.machine_chart.options.update(telemetry_chart(samples, sampler.samples[0].at))
        self.machine_chart.update()

    def _metrics(self) -> Sequence[Metric]:
        assert self.run is not None
        return self.run.modality.metrics

    def _modality_artifact(self) -> Artifact | None:
        assert self.run is not None
        return self.run.modality.artifact

    def _end(self) -> None:
        assert self.run is not None and self._subscription is not None
        self._draw_machine()
        self._draw_rate()
        ui.page_title(TITLE)
        self._subscription.close()
        self._subscription = None
        self.on_end(self.run)
