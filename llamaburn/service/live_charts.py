"""ECharts options for a run as it streams: the token rate over the current iteration, the per-iteration strip,
and the machine's telemetry. Plain dicts from plain numbers, so they are tested without a browser and the UI
only hands them to ``ui.echart``; docs/metrics.md defines the live rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llamaburn.engine.telemetry import Sample

BUCKET_MS = 250.0  # the spec's range is 100 to 250 ms: the widest, so a rate of 10 tok/s is not all zeros


def token_rate(arrivals_ms: Sequence[float], bucket_ms: float = BUCKET_MS) -> list[list[float]]:
    """The live tokens-per-second line: ``[bucket end (s), chunks in the bucket / bucket (s)]`` for each bucket
    from the iteration's start to the last arrival, empty buckets included (a stall shows as a drop to 0)."""
    if not arrivals_ms:
        return []
    counts = [0] * (math.floor(max(arrivals_ms) / bucket_ms) + 1)
    for at in arrivals_ms:
        counts[math.floor(max(at, 0.0) / bucket_ms)] += 1
    seconds = bucket_ms / 1000
    return [[round((index + 1) * seconds, 3), count / seconds] for index, count in enumerate(counts)]


def rate_chart(points: list[list[float]], ttft_ms: float | None) -> dict[str, Any]:
    """Tokens per second over the iteration's time, with a vertical marker at its first token (TTFT)."""
    marker = [{"xAxis": round(ttft_ms / 1000, 3), "name": f"TTFT {ttft_ms:.0f} ms"}] if ttft_ms is not None else []
    return {
        "animation": False,  # redrawn ten times a second: a transition would only blur the axis labels
        "title": {"text": "Tokens/s, this iteration", "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "grid": {"top": 36, "bottom": 28, "left": 48, "right": 16},
        "xAxis": {"type": "value", "name": "s", "min": 0},
        "yAxis": {"type": "value", "name": "tok/s", "min": 0},
        "series": [
            {
                "name": "tok/s",
                "type": "line",
                "step": "end",
                "showSymbol": False,
                "data": points,
                "markLine": {"symbol": "none", "label": {"formatter": "{b}"}, "data": marker},
            }
        ],
    }


def strip_chart(label: str, unit: str, values: Sequence[float | None], total: int) -> dict[str, Any]:
    """One bar per iteration of ``total``, filled as each completes: the run's headline metric."""
    return {
        "title": {"text": f"{label} per iteration ({unit})" if unit else label, "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "grid": {"top": 36, "bottom": 24, "left": 48, "right": 16},
        "xAxis": {"type": "category", "data": [str(i) for i in range(1, total + 1)]},
        "yAxis": {"type": "value", "min": 0},
        "series": [{"name": label, "type": "bar", "data": [*values, *[None] * (total - len(values))]}],
    }


def telemetry_chart(samples: Sequence[Sample], since: float) -> dict[str, Any]:
    """CPU and (where sampled) GPU utilisation in percent over the run's time, from ``since`` (perf_counter)."""
    series = [("CPU %", [s.cpu_pct for s in samples])]
    if any(s.gpu_util_pct is not None for s in samples):
        series.append(("GPU %", [s.gpu_util_pct for s in samples]))  # type: ignore[misc]
    times = [round(s.at - since, 2) for s in samples]
    return {
        "animation": False,
        "title": {"text": "Machine", "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "right": 0, "data": [name for name, _ in series]},
        "grid": {"top": 36, "bottom": 28, "left": 48, "right": 16},
        "xAxis": {"type": "value", "name": "s", "min": 0},
        "yAxis": {"type": "value", "name": "%", "min": 0, "max": 100},
        "series": [
            {"name": name, "type": "line", "showSymbol": False,
             "data": [[t, v] for t, v in zip(times, values, strict=True)]}
            for name, values in series
        ],
    }
