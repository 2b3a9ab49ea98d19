"""Metric definitions and the arithmetic behind them; docs/metrics.md states every formula used here.

All client-side times come from ``time.perf_counter()`` taken as each chunk is parsed, in the same task
that reads the HTTP stream, with no await between the read and the timestamp.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from llamaburn.errors import BackendError


class Metric(BaseModel):
    """A metric a modality reports: how to label it, its unit, and which way is better."""

    name: str
    label: str
    unit: str
    direction: Literal["higher", "lower"]

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"


@dataclass(frozen=True, slots=True)
class ServerTimings:
    """The server's own accounting, from a stream's final chunk. ``None`` means the server did not say.

    Ollama reports durations in nanoseconds and omits zero fields, so a missing field is unknown, not 0.
    """

    output_tokens: int | None = None
    eval_ns: int | None = None
    prompt_tokens: int | None = None
    prompt_eval_ns: int | None = None
    load_ns: int | None = None
    total_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One parsed piece of a streamed answer. A chunk with neither content nor thinking (a role-only
    first chunk, a final usage chunk) carries no token and is not timed as one."""

    content: str = ""
    thinking: str = ""
    timings: ServerTimings | None = None


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    if not count or not duration_ns:
        return None
    return count / duration_ns * 1e9


async def measure_stream(chunks: AsyncIterator[Chunk], on_text: Callable[[str], None]) -> dict[str, Any]:
    """Consume one streamed answer, timing every chunk that carries text, and return its metrics.

    ``chunks`` must not have been started: the request is sent on the first ``__anext__``, which is
    where the clock starts. ``on_text`` must not block (it publishes to the event bus).
    """
    arrivals: list[float] = []
    timings: ServerTimings | None = None
    started = time.perf_counter()
    async for chunk in chunks:
        now = time.perf_counter()
        if chunk.timings is not None:
            timings = chunk.timings
        text = chunk.thinking + chunk.content
        if text:
            arrivals.append(now)
            on_text(text)
    ended = time.perf_counter()
    if not arrivals:
        raise BackendError("the server streamed an empty answer: check the model and its chat template")
    return stream_metrics(started, arrivals, ended, timings)


def stream_metrics(
    started: float, arrivals: list[float], ended: float, timings: ServerTimings | None
) -> dict[str, Any]:
    """Metrics of one answer from its clock readings (seconds): request sent, each text chunk, end."""
    server = timings or ServerTimings()
    if server.output_tokens:
        output_tokens, source = server.output_tokens, "server"
    else:
        output_tokens, source = len(arrivals), "chunks"
    decode_s = arrivals[-1] - arrivals[0]
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)]
    metrics: dict[str, Any] = {
        "ttft_ms": (arrivals[0] - started) * 1000,
        "tps": (output_tokens - 1) / decode_s if output_tokens > 1 and decode_s > 0 else None,
        "itl_ms_mean": statistics.fmean(gaps_ms) if gaps_ms else None,
        "itl_ms_p50": percentile(gaps_ms, 50) if gaps_ms else None,
        "itl_ms_p95": percentile(gaps_ms, 95) if gaps_ms else None,
        "itl_ms_p99": percentile(gaps_ms, 99) if gaps_ms else None,
        "total_ms": (ended - started) * 1000,
        "output_tokens": output_tokens,
        "token_count_source": source,
        "chunks": len(arrivals),
        "server_tps": _rate(server.output_tokens, server.eval_ns),
        "prompt_tokens": server.prompt_tokens,
        "prompt_tps": _rate(server.prompt_tokens, server.prompt_eval_ns),
        "load_ms": server.load_ns / 1e6 if server.load_ns else None,
    }
    return metrics


STATS = ("mean", "min", "max", "stdev", "p50", "p90", "p99")


def summarize(iterations: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Statistics of every numeric metric over the counted iterations; unknown (None) values are skipped.

    ``stdev`` is the sample standard deviation, 0 for a single value.
    """
    columns: dict[str, list[float]] = {}
    for metrics in iterations:
        for name, value in metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                columns.setdefault(name, []).append(float(value))
    return {
        name: {
            "mean": statistics.fmean(values),
            "min": min(values),
            "max": max(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "p50": percentile(values, 50),
            "p90": percentile(values, 90),
            "p99": percentile(values, 99),
        }
        for name, values in columns.items()
    }
