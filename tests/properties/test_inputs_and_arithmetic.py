"""Inputs a user types and numbers a run stores: the text modality's validation gives valid inputs or a
``ConfigError``; ``summarize``, ``stream_metrics`` and ``compare`` take zero, missing, NaN and infinite
values with no exception and no NaN out."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llamaburn.backends.base import ServerTimings
from llamaburn.engine.metrics import STATS, stream_metrics, summarize
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError
from llamaburn.service.compare import compare, compared
from llamaburn.storage.records import RunRecord
from tests.properties.streams import COUNTS, JSON_VALUES, assert_sane_metrics

# The text modality's input validation


@pytest.fixture(scope="module")
def text_modality() -> Modality:
    return load_registry().modality("text")


INPUT_FIELDS = ("iterations", "warmup", "prompts", "temperature", "max_tokens", "seed", "cache_mode")
INPUT_VALUES = (
    JSON_VALUES
    | st.integers()
    | st.floats()
    | st.lists(st.text(max_size=8), max_size=3)
    | st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 10_001, 2**63, True, "5", "  ", [""], [" "]])
)


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.sampled_from(INPUT_FIELDS) | st.text(max_size=8), INPUT_VALUES, max_size=6))
def test_text_inputs_are_valid_or_a_config_error(text_modality: Modality, data: dict[str, Any]) -> None:
    try:
        inputs = text_modality.parse_inputs(data)
    except ConfigError as exc:
        assert str(exc)
        return
    values = inputs.model_dump()
    assert 1 <= values["iterations"] <= 10_000 and 0 <= values["warmup"] <= 100
    assert 0.0 <= values["temperature"] <= 2.0 and 1 <= values["max_tokens"] <= 131_072
    assert values["prompts"] and all(prompt.strip() for prompt in values["prompts"])
    assert set(values) == set(INPUT_FIELDS)


# The arithmetic: summarize, stream_metrics, compare

NUMBERS = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 0.0, -0.0, math.nan, math.inf, -math.inf])
    | st.integers(-(10**12), 10**12)
    | st.floats(-1e12, 1e12)
    | st.text(max_size=4)
)
METRIC_NAMES = st.sampled_from(["tps", "ttft_ms", "itl_ms_p50", "total_ms", "output_tokens", "token_count_source"])


def assert_finite_stats(summary: dict[str, dict[str, float]]) -> None:
    for name, stats in summary.items():
        assert set(stats) == set(STATS), name
        assert all(math.isfinite(value) for value in stats.values()), (name, stats)
        low, high = stats["min"], stats["max"]
        slack = 1e-9 * max(1.0, abs(low), abs(high))
        assert all(low - slack <= stats[key] <= high + slack for key in ("mean", "p50", "p90", "p99")), stats
        assert stats["stdev"] >= 0


@settings(max_examples=200, deadline=None)
@given(iterations=st.lists(st.dictionaries(METRIC_NAMES | st.text(max_size=4), NUMBERS, max_size=6), max_size=8))
def test_summarize_skips_unknown_values_and_gives_finite_statistics(iterations: list[dict[str, Any]]) -> None:
    summary = summarize(iterations)
    assert_finite_stats(summary)
    for name, stats in summary.items():  # every counted value is a finite, non-boolean number
        counted = [m[name] for m in iterations if isinstance(m.get(name), int | float)
                   and not isinstance(m.get(name), bool) and math.isfinite(m[name])]
        assert counted and stats["min"] == min(counted) and stats["max"] == max(counted)


@settings(max_examples=200, deadline=None)
@given(iterations=st.lists(st.dictionaries(METRIC_NAMES, st.floats(allow_nan=False), max_size=3), max_size=6))
@example(iterations=[{"output_tokens": 1e308}, {"output_tokens": 1e308}])
@example(iterations=[{"tps": -1.7e308}, {"tps": 1.7e308}, {"tps": 1.7e308}])
@example(iterations=[{"tps": sys.float_info.max}] * 3)  # fsum of max / 3, three times, overflowed rounding up
def test_summarize_of_any_float_gives_finite_statistics(iterations: list[dict[str, Any]]) -> None:
    assert_finite_stats(summarize(iterations))


ARRIVALS = st.lists(st.floats(0, 1e4), min_size=1, max_size=40).map(sorted)


@settings(max_examples=200, deadline=None)
@given(
    arrivals=ARRIVALS,
    before=st.floats(0, 10),
    after=st.floats(0, 10),
    timings=st.none() | st.builds(ServerTimings, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS, COUNTS),
)
def test_stream_metrics_of_server_counts_are_finite(
    arrivals: list[float], before: float, after: float, timings: ServerTimings | None
) -> None:
    metrics = stream_metrics(arrivals[0] - before, arrivals, arrivals[-1] + after, timings)
    assert_sane_metrics(metrics)
    assert metrics["output_tokens"] >= 1 and metrics["chunks"] == len(arrivals)
    assert metrics["ttft_ms"] <= metrics["total_ms"] + 1e-6


SERVER_NUMBERS = COUNTS | st.sampled_from([0, math.nan, math.inf, -math.inf, -5])


@settings(max_examples=200, deadline=None)
@given(
    arrivals=ARRIVALS,
    timings=st.builds(ServerTimings, SERVER_NUMBERS, SERVER_NUMBERS, SERVER_NUMBERS, SERVER_NUMBERS,
                      SERVER_NUMBERS, SERVER_NUMBERS),
)
@example(arrivals=[1.0, 2.0], timings=ServerTimings(output_tokens=5, eval_ns=math.nan))  # type: ignore[arg-type]
@example(arrivals=[1.0, 2.0], timings=ServerTimings(load_ns=math.nan))  # type: ignore[arg-type]
def test_stream_metrics_of_any_server_numbers_have_no_nan(arrivals: list[float], timings: ServerTimings) -> None:
    metrics = stream_metrics(arrivals[0], arrivals, arrivals[-1], timings)
    assert not any(isinstance(value, float) and math.isnan(value) for value in metrics.values()), metrics


TEXT_METRICS = load_registry().modality("text").metrics
COMPARED = compared(TEXT_METRICS)
STAT_VALUES = st.none() | st.booleans() | st.sampled_from([0, 0.0, math.nan, math.inf, -math.inf]) | st.floats() \
    | st.integers(-(10**15), 10**15)
SUMMARIES = st.dictionaries(
    st.sampled_from(sorted({c.metric for c in COMPARED})),
    st.dictionaries(st.sampled_from(["mean", "min", "max", "p50"]), STAT_VALUES, max_size=4),
    max_size=5,
)


def record(index: int, summary: dict[str, Any]) -> RunRecord:
    return RunRecord(id=f"run-{index}", created_at=datetime(2025, 1, 1, tzinfo=UTC), modality="text",
                     backend="ollama", model=f"m{index}", status="completed", summary=summary)


@settings(max_examples=200, deadline=None)
@given(summaries=st.lists(SUMMARIES, min_size=2, max_size=6))
def test_compare_of_zero_missing_nan_and_inf_values_has_no_nan(summaries: list[dict[str, Any]]) -> None:
    comparison = compare([record(i, s) for i, s in enumerate(summaries)], TEXT_METRICS)
    assert len(comparison.rows) == len(COMPARED)
    for row, compared_row in zip(comparison.rows, COMPARED, strict=True):
        known = [(v, i) for i, v in enumerate(row.values) if v is not None]
        assert all(math.isfinite(v) for v, _ in known)
        assert all(d is None or not math.isnan(d) for d in row.diff_pct) and row.diff_pct[0] is None
        if not known:
            assert row.winner is None
            continue
        best = (max if compared_row.direction == "higher" else min)(v for v, _ in known)
        assert row.winner is not None and row.values[row.winner] == best
        if row.values[0] in (None, 0):
            assert row.diff_pct == [None] * len(summaries)  # a difference to nothing, or to zero, is not a number
