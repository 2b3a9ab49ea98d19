"""The comparison table: values, the winner of each row (aware of direction) and the difference to the first run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llamaburn.compare import COMPARED, Comparison, ComparisonRow, compare
from llamaburn.errors import ConfigError
from llamaburn.store import RunRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_run(run_id: str, summary: dict[str, Any], minutes: int = 0, model: str = "llama3.2:1b") -> RunRecord:
    return RunRecord(
        id=run_id,
        created_at=T0 + timedelta(minutes=minutes),
        modality="text",
        backend="ollama",
        model=model,
        status="completed",
        summary=summary,
    )


def summary(
    tps: float | None = None,
    ttft_ms: float | None = None,
    tps_min: float | None = None,
    tps_max: float | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if tps is not None:
        result["tps"] = {
            "mean": tps,
            "min": tps if tps_min is None else tps_min,
            "max": tps if tps_max is None else tps_max,
        }
    if ttft_ms is not None:
        result["ttft_ms"] = {"mean": ttft_ms}
    return result


def row(comparison: Comparison, key: str) -> ComparisonRow:
    [found] = [r for r in comparison.rows if r.key == key]
    return found


def test_spec_example_tps_and_ttft() -> None:
    a = make_run("run-a", summary(tps=45.2, ttft_ms=89.0), model="llama3.2:1b")
    b = make_run("run-b", summary(tps=28.1, ttft_ms=142.0), minutes=1, model="qwen2.5:7b")

    comparison = compare([a, b])

    tps = row(comparison, "avg_tps")
    assert tps.values == [45.2, 28.1]
    assert tps.winner == 0
    assert tps.diff_pct[0] is None
    assert tps.diff_pct[1] is not None
    assert tps.diff_pct[1] == pytest.approx((28.1 - 45.2) / 45.2 * 100)
    assert round(tps.diff_pct[1], 2) == -37.83

    ttft = row(comparison, "avg_ttft_ms")
    assert ttft.values == [89.0, 142.0]
    assert ttft.winner == 0  # lower is better
    assert ttft.diff_pct[1] is not None
    assert round(ttft.diff_pct[1], 2) == 59.55

    assert [column.id for column in comparison.runs] == ["run-a", "run-b"]
    assert [column.model for column in comparison.runs] == ["llama3.2:1b", "qwen2.5:7b"]


def test_three_runs_pick_the_best_per_direction_and_diff_against_the_first() -> None:
    runs = [
        make_run("run-a", summary(tps=40.0, ttft_ms=100.0, tps_min=30.0, tps_max=50.0)),
        make_run("run-b", summary(tps=60.0, ttft_ms=120.0, tps_min=20.0, tps_max=70.0), minutes=1),
        make_run("run-c", summary(tps=50.0, ttft_ms=80.0, tps_min=45.0, tps_max=55.0), minutes=2),
    ]

    comparison = compare(runs)

    assert row(comparison, "avg_tps").winner == 1
    assert row(comparison, "avg_tps").diff_pct == [None, pytest.approx(50.0), pytest.approx(25.0)]
    assert row(comparison, "avg_ttft_ms").winner == 2
    assert row(comparison, "avg_ttft_ms").diff_pct == [None, pytest.approx(20.0), pytest.approx(-20.0)]
    assert row(comparison, "min_tps").values == [30.0, 20.0, 45.0]
    assert row(comparison, "min_tps").winner == 2
    assert row(comparison, "max_tps").values == [50.0, 70.0, 55.0]
    assert row(comparison, "max_tps").winner == 1
    assert len(comparison.runs) == 3


@pytest.mark.parametrize("key", ["avg_tps", "avg_ttft_ms"])
def test_a_tie_goes_to_the_earliest_run(key: str) -> None:
    runs = [
        make_run("run-a", summary(tps=10.0, ttft_ms=200.0)),
        make_run("run-b", summary(tps=30.0, ttft_ms=50.0), minutes=1),
        make_run("run-c", summary(tps=30.0, ttft_ms=50.0), minutes=2),
    ]

    assert row(compare(runs), key).winner == 1


def test_missing_metric_has_no_value_and_the_winner_is_among_the_rest() -> None:
    runs = [
        make_run("run-a", summary(tps=40.0, ttft_ms=100.0)),
        make_run("run-b", summary(ttft_ms=90.0), minutes=1),  # no tps at all
        make_run("run-c", summary(tps=30.0, ttft_ms=110.0), minutes=2),
    ]

    tps = row(compare(runs), "avg_tps")

    assert tps.values == [40.0, None, 30.0]
    assert tps.winner == 0
    assert tps.diff_pct == [None, None, pytest.approx(-25.0)]


def test_metric_missing_from_the_first_run_leaves_every_diff_undefined() -> None:
    runs = [make_run("run-a", summary(ttft_ms=100.0)), make_run("run-b", summary(tps=30.0, ttft_ms=90.0), minutes=1)]

    tps = row(compare(runs), "avg_tps")

    assert tps.values == [None, 30.0]
    assert tps.winner == 1
    assert tps.diff_pct == [None, None]


def test_metric_missing_from_every_run_has_no_winner() -> None:
    comparison = compare([make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)])

    itl = row(comparison, "itl_p95_ms")

    assert itl.values == [None, None]
    assert itl.winner is None
    assert itl.diff_pct == [None, None]


def test_first_value_zero_gives_no_diff() -> None:
    runs = [make_run("run-a", summary(ttft_ms=0.0)), make_run("run-b", summary(ttft_ms=50.0), minutes=1)]

    ttft = row(compare(runs), "avg_ttft_ms")

    assert ttft.values == [0.0, 50.0]
    assert ttft.winner == 0
    assert ttft.diff_pct == [None, None]


@pytest.mark.parametrize("bad", [math.nan, math.inf, "fast", None])
def test_non_finite_or_non_numeric_value_is_treated_as_missing(bad: Any) -> None:
    runs = [
        make_run("run-a", {"tps": {"mean": 40.0}}),
        make_run("run-b", {"tps": {"mean": bad}}, minutes=1),
        make_run("run-c", {"tps": {"mean": 20.0}}, minutes=2),
    ]

    tps = row(compare(runs), "avg_tps")

    assert tps.values == [40.0, None, 20.0]
    assert tps.winner == 0
    assert tps.diff_pct == [None, None, pytest.approx(-50.0)]


def test_nan_in_the_first_run_is_missing_not_a_poisoned_diff() -> None:
    runs = [make_run("run-a", {"tps": {"mean": math.nan}}), make_run("run-b", {"tps": {"mean": 20.0}}, minutes=1)]

    tps = row(compare(runs), "avg_tps")

    assert tps.values == [None, 20.0]
    assert tps.winner == 1
    assert tps.diff_pct == [None, None]


def test_comparison_serialises_to_json_without_nan() -> None:
    runs = [make_run("run-a", {"tps": {"mean": math.nan}}), make_run("run-b", summary(tps=20.0), minutes=1)]

    text = compare(runs).model_dump_json()

    assert "NaN" not in text
    assert '"created_at":"2025-03-01T12:00:00+00:00"' in text


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_runs_is_a_config_error(count: int) -> None:
    runs = [make_run(f"run-{i}", summary(tps=1.0)) for i in range(count)]

    with pytest.raises(ConfigError, match="at least two runs"):
        compare(runs)


def test_rows_follow_compared_in_order_with_their_labels() -> None:
    comparison = compare([make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)])

    assert [(r.key, r.label, r.unit, r.direction) for r in comparison.rows] == [
        (c.key, c.label, c.unit, c.direction) for c in COMPARED
    ]
    assert [r.key for r in comparison.rows] == [
        "avg_tps",
        "avg_ttft_ms",
        "min_tps",
        "max_tps",
        "itl_p50_ms",
        "itl_p95_ms",
        "avg_total_ms",
    ]
    assert [r.label for r in comparison.rows] == [
        "Avg TPS",
        "Avg TTFT",
        "Min TPS",
        "Max TPS",
        "ITL p50",
        "ITL p95",
        "Total time",
    ]
