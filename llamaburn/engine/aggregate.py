"""What a sweep cell's simultaneous streams add up to: aggregate throughput, requests per second, goodput
against the user's SLOs, and the knee of a throughput curve. docs/metrics.md ("Sweeps") states each formula.

Each stream is an ordinary run with its own per-request metrics; these functions only combine them, so a
stream's TTFT and TPS are measured exactly as in a single run.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from llamaburn.engine.metrics import percentile

KNEE_GAIN = 0.10
"""Aggregate throughput that rises by less than this share from one concurrency to the next has stopped
rising: the lower concurrency is the knee."""
KNEE_GOODPUT_PCT = 90.0
"""Goodput under this share at the next concurrency also makes the lower one the knee."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def meets(metrics: Mapping[str, Any], slo: Mapping[str, float]) -> bool:
    """Whether one request met every SLO: each named metric is known and at most its limit. An unknown
    value fails, since a request whose TTFT nobody measured cannot be said to have met a TTFT target."""
    for name, limit in slo.items():
        value = _number(metrics.get(name))
        if value is None or value > limit:
            return False
    return True


def aggregate(requests: Sequence[Mapping[str, Any]], wall_s: float, slo: Mapping[str, float]) -> dict[str, Any]:
    """The cell's numbers from every request its streams sent (warmups included: they shared the server
    during the same ``wall_s``, from the first stream's start to the last stream's end)."""
    tokens = sum(_number(r.get("output_tokens")) or 0.0 for r in requests)
    ttfts = [v for r in requests if (v := _number(r.get("ttft_ms"))) is not None]
    rates = [v for r in requests if (v := _number(r.get("tps"))) is not None]
    prefill = [v for r in requests if (v := _number(r.get("prompt_tps"))) is not None]
    prompts = [v for r in requests if (v := _number(r.get("prompt_tokens"))) is not None]
    return {
        "requests": len(requests),
        "output_tokens": int(tokens),
        "wall_ms": wall_s * 1000,
        "aggregate_tps": tokens / wall_s if wall_s > 0 else None,
        "requests_per_s": len(requests) / wall_s if wall_s > 0 else None,
        "stream_tps_mean": sum(rates) / len(rates) if rates else None,
        "prompt_tps_mean": sum(prefill) / len(prefill) if prefill else None,
        "prompt_tokens_mean": sum(prompts) / len(prompts) if prompts else None,
        "ttft_ms_p50": percentile(ttfts, 50) if ttfts else None,
        "ttft_ms_p95": percentile(ttfts, 95) if ttfts else None,
        "goodput_pct": 100 * sum(meets(r, slo) for r in requests) / len(requests) if slo and requests else None,
    }


def knee(points: Sequence[tuple[int, Mapping[str, Any]]]) -> int | None:
    """The concurrency past which more streams stop paying: the lowest ``c`` whose next point (by
    concurrency) raises ``aggregate_tps`` by less than ``KNEE_GAIN`` or has goodput under
    ``KNEE_GOODPUT_PCT``. ``None`` while throughput still rises at the last point measured."""
    ordered = sorted(points, key=lambda point: point[0])
    for (concurrency, here), (_, after) in itertools.pairwise(ordered):
        now, then = _number(here.get("aggregate_tps")), _number(after.get("aggregate_tps"))
        goodput = _number(after.get("goodput_pct"))
        if now is None or then is None:
            continue
        if then < now * (1 + KNEE_GAIN) or (goodput is not None and goodput < KNEE_GOODPUT_PCT):
            return concurrency
    return None
