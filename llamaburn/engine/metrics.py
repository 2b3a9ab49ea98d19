"""Metric definitions and the arithmetic behind them; docs/metrics.md states every formula used here.

All client-side times are ``time.perf_counter()`` readings. Through a backend's own connections they are the
socket's clocks (``backends/arrival.py``): the request handed to the socket, and each chunk's bytes taken
off it by the event loop. Elsewhere (a mock transport) a chunk is timed as it is parsed, in the task that
reads the stream, with no await between the read and the timestamp.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel

from llamaburn.backends.base import Breakdown, Chunk, ServerTimings
from llamaburn.errors import BackendError


class Metric(BaseModel):
    """A metric a modality reports: how to label it, its unit, and which way is better."""

    name: str
    label: str
    unit: str
    direction: Literal["higher", "lower"]
    outcomes: tuple[str, str] | None = None
    """For a rate whose every iteration passes (100) or fails (0), the words for one iteration's pass and
    fail, ``("valid", "invalid")``: the iteration table shows the word, and the run's mean stays the rate."""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    below, above, fraction = ordered[low], ordered[high], rank - low
    if fraction == 0 or below == above:
        return below
    span = above - below
    if math.isinf(span):  # finite values of opposite signs near the float maximum: weigh each instead
        return below * (1 - fraction) + above * fraction
    return below + span * fraction


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` for anything else: no number, a boolean, NaN, infinity, or
    an integer beyond the float range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _positive(value: float | None) -> float | None:
    """``value`` when it is a finite number above 0, else ``None``: a server's zero, NaN or negative count or
    duration says nothing usable (Ollama omits zero fields; a broken server sends worse)."""
    number = _number(value)
    return number if number is not None and number > 0 else None


def _count(value: float | None) -> int | None:
    """A server's token count as an ``int`` when it is a whole number above 0; else unknown."""
    number = _positive(value)
    return int(number) if number is not None and number.is_integer() else None


def _whole(value: float | None) -> int | None:
    """A server's count as an ``int`` when it is a whole number from 0 up (0 is a count here); else unknown."""
    number = _number(value)
    return int(number) if number is not None and number >= 0 and number.is_integer() else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _rate(count: float | None, duration_ns: float | None) -> float | None:
    """Per second, from a count and nanoseconds; unknown unless both are finite and above 0."""
    tokens, duration = _positive(count), _positive(duration_ns)
    if tokens is None or duration is None:
        return None
    return _finite(tokens / duration * 1e9)


async def measure_stream(chunks: AsyncIterator[Chunk], on_text: Callable[[str], None]) -> dict[str, Any]:
    """Consume one streamed answer, timing every chunk that carries text, and return its metrics.

    ``chunks`` must not have been started: the request is sent on the first ``__anext__``, which is
    where the clock starts. A backend that had to resend the request on a fresh connection says so with a
    marker chunk (``resent_at``): the clock restarts there, so the dead attempt's time is never counted.
    Where the backend's connection keeps socket clocks (``backends/arrival.py``), the clock starts when the
    request was handed to the socket (the marker's ``sent_at``) and each chunk is timed at the arrival of
    its bytes (``arrived_at``), not after its parsing, which waits behind other streams' chunks.
    ``on_text`` must not block (it publishes to the event bus). Thinking text goes to its ``thinking``
    method when it has one (the runner's ``TextSink``), else to ``on_text`` too.
    """
    arrivals: list[float] = []
    thinking: list[bool] = []
    timings: ServerTimings | None = None
    breakdown: Breakdown | None = None
    reconnects = 0
    on_thinking: Callable[[str], None] = getattr(on_text, "thinking", on_text)
    started = time.perf_counter()
    ended: float | None = None  # the last chunk's arrival, where the socket's clock is kept
    async for chunk in chunks:
        now = time.perf_counter() if chunk.arrived_at is None else chunk.arrived_at
        ended = chunk.arrived_at
        if chunk.resent_at is not None:
            started, reconnects = chunk.resent_at, reconnects + 1
        if chunk.sent_at is not None:
            started = chunk.sent_at
        if chunk.timings is not None:
            timings = chunk.timings
        if chunk.breakdown is not None:
            breakdown = chunk.breakdown
        if chunk.thinking or chunk.content:
            arrivals.append(now)
            thinking.append(not chunk.content)
            if chunk.thinking:
                on_thinking(chunk.thinking)
            if chunk.content:
                on_text(chunk.content)
    ended = time.perf_counter() if ended is None else ended
    if not arrivals:
        raise BackendError("the server streamed an empty answer: check the model and its chat template")
    return stream_metrics(started, arrivals, ended, timings, breakdown, thinking) | {"reconnects": reconnects}


def stream_metrics(
    started: float,
    arrivals: list[float],
    ended: float,
    timings: ServerTimings | None,
    breakdown: Breakdown | None = None,
    thinking: list[bool] | None = None,
) -> dict[str, Any]:
    """Metrics of one answer from its clock readings (seconds): request sent, each text chunk, end.

    ``thinking`` says, for each text chunk, whether it carried only thinking; ``None``: all were answer.
    """
    server, split = timings or ServerTimings(), breakdown or Breakdown()
    if counted := _count(server.output_tokens):
        output_tokens, source = counted, "server"
    else:
        output_tokens, source = len(arrivals), "chunks"
    decode_s = arrivals[-1] - arrivals[0]
    gaps_ms = [(b - a) * 1000 for a, b in itertools.pairwise(arrivals)]
    metrics: dict[str, Any] = {
        "ttft_ms": (arrivals[0] - started) * 1000,
        "tps": _finite((output_tokens - 1) / decode_s) if output_tokens > 1 and decode_s > 0 else None,
        "itl_ms_mean": statistics.fmean(gaps_ms) if gaps_ms else None,
        "itl_ms_p50": percentile(gaps_ms, 50) if gaps_ms else None,
        "itl_ms_p95": percentile(gaps_ms, 95) if gaps_ms else None,
        "itl_ms_p99": percentile(gaps_ms, 99) if gaps_ms else None,
        "total_ms": (ended - started) * 1000,
        "output_tokens": output_tokens,
        "token_count_source": source,
        "chunks": len(arrivals),
        **prompt_metrics(server, split),
        "load_ms": load_ns / 1e6 if (load_ns := _positive(server.load_ns)) else None,
    }
    metrics |= thinking_metrics(started, arrivals, ended, thinking or [False] * len(arrivals), output_tokens, split)
    metrics |= clock_metrics(metrics, server, split)
    return metrics


def thinking_metrics(
    started: float, arrivals: list[float], ended: float, thinking: list[bool], output_tokens: int, split: Breakdown
) -> dict[str, Any]:
    """When the answer began and how the tokens divide between thinking and answer.

    ``ttft_answer_ms`` is the first answer (content) chunk's arrival, ``None`` for an answer of thinking only;
    ``thinking_ms`` runs from the first thinking chunk to the first answer chunk after it (or the stream's
    end), 0 without thinking. The server's reasoning count (``usage.completion_tokens_details.reasoning_tokens``)
    is used when it fits within ``output_tokens``; else the chunks of each kind are counted.
    """
    thought = [at for at, is_thinking in zip(arrivals, thinking, strict=True) if is_thinking]
    answer = [at for at, is_thinking in zip(arrivals, thinking, strict=True) if not is_thinking]
    answer_at = answer[0] if answer else None
    reported = _whole(split.thinking_tokens)
    if reported is not None and reported <= output_tokens:
        thinking_tokens, answer_tokens = reported, output_tokens - reported
    else:
        thinking_tokens, answer_tokens = len(thought), len(answer)
    return {
        "ttft_answer_ms": (answer_at - started) * 1000 if answer_at is not None else None,
        "thinking_ms": (next((at for at in answer if at > thought[0]), ended) - thought[0]) * 1000 if thought else 0.0,
        "thinking_tokens": thinking_tokens,
        "answer_tokens": answer_tokens,
    }


def clock_metrics(metrics: dict[str, Any], server: ServerTimings, split: Breakdown) -> dict[str, Any]:
    """The server's clock beside the client's: its decode rate and prompt time, the TTFT the server did not
    spend on the prompt (transport, queue, first token's sampling; unknown when the server's prompt time
    exceeds the client's TTFT, which only clocks that disagree can give), and whether the two decode rates differ
    by more than ``CLOCK_TOLERANCE`` (a multi-token chunk stream, a proxy, a busy client).

    llama.cpp's decode time covers N - 1 tokens (the first is sampled at the end of its prompt phase), so
    its rate counts those; Ollama's formula is ``eval_count / eval_duration``.
    """
    decoded = split.decoded_tokens if split.decoded_tokens is not None else server.output_tokens
    server_tps = _rate(decoded, server.eval_ns)
    prompt_ms = prompt_ns / 1e6 if (prompt_ns := _positive(server.prompt_eval_ns)) else None
    tps = metrics["tps"]
    gap = abs(tps - server_tps) / server_tps * 100 if tps is not None and server_tps is not None else None
    return {
        "server_tps": server_tps,
        "server_prompt_ms": prompt_ms,
        "ttft_overhead_ms": overhead if prompt_ms is not None and (overhead := metrics["ttft_ms"] - prompt_ms) >= 0
        else None,
        "tps_gap_pct": _finite(gap) if gap is not None else None,
        "clocks_disagree": gap > CLOCK_TOLERANCE * 100 if gap is not None and math.isfinite(gap) else None,
    }


def prompt_metrics(server: ServerTimings, split: Breakdown) -> dict[str, Any]:
    """The prompt's counts, its cache outcome and the server's prompt rate over the tokens it processed.

    ``prompt_tokens`` keeps its meaning, all of them; the rate divides only the newly processed ones by the
    server's prompt time, which covers those alone. A cached count that is not a whole number from 0 to
    ``prompt_tokens`` is unknown, and so is the cache outcome.
    """
    prompt_tokens = _count(server.prompt_tokens)
    cached = _whole(split.cached_prompt_tokens)
    if cached is not None and prompt_tokens is not None and cached > prompt_tokens:
        cached = None
    new = _count(split.new_prompt_tokens)
    if new is None and prompt_tokens is not None:
        new = prompt_tokens - (cached or 0)
    return {
        "prompt_tokens": prompt_tokens,
        "cached_prompt_tokens": cached,
        "prompt_cache": "unknown" if cached is None else "hit" if cached else "miss",
        "prompt_tps": _rate(new, server.prompt_eval_ns),
    }


CLOCK_TOLERANCE = 0.05  # client and server decode rates further apart than this flag the iteration
STATS = ("mean", "min", "max", "stdev", "p50", "p90", "p99")


def summarize(iterations: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Statistics of every numeric metric over the counted iterations; unknown (None) values are skipped.

    ``stdev`` is the sample standard deviation, 0 for a single value. Only finite numbers are counted, and
    a metric whose statistics leave the float range (a spread beyond 1.8e308, from a broken server's
    counts) is left out, so a summary never holds NaN or infinity and is always valid JSON.
    """
    columns: dict[str, list[float]] = {}
    for metrics in iterations:
        for name, value in metrics.items():
            if (number := _number(value)) is not None:
                columns.setdefault(name, []).append(number)
    summary = {name: _statistics(values) for name, values in columns.items()}
    return {name: stats for name, stats in summary.items() if all(math.isfinite(v) for v in stats.values())}


def _statistics(values: list[float]) -> dict[str, float]:
    return {
        "mean": _mean(values),
        "min": min(values),
        "max": max(values),
        "stdev": _stdev(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
    }


def _mean(values: list[float]) -> float:
    try:
        return statistics.fmean(values)
    except OverflowError:  # the sum of values near the float maximum overflows; their mean does not
        scale = max(abs(value) for value in values)  # not fsum of value / n: its partial sums can overflow too
        return scale * statistics.fmean([value / scale for value in values])


def _stdev(values: list[float]) -> float:
    """The sample standard deviation (0 for one value); infinity when it is beyond the float range."""
    if len(values) < 2:
        return 0.0
    try:
        return statistics.stdev(values)
    except OverflowError:  # computed exactly, then too large for a float: compute it scaled down
        scale = max(abs(value) for value in values)
        return scale * statistics.stdev([value / scale for value in values])
