"""The comparison table: rows from a metric set, values, the winner of each row (by the metric's direction) and
the difference to the first run."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError
from llamaburn.plugin import Metric, Modality
from llamaburn.service.compare import Comparison, ComparisonRow, compare, compared, metric_set
from llamaburn.storage.records import RunRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
METRICS = (
    Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
    Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
    Metric(name="itl_ms_p95", label="ITL p95", unit="ms", direction="lower"),
)
EMBEDDINGS = (
    Metric(name="embeddings_per_s", label="Embeddings/s", unit="emb/s", direction="higher"),
    Metric(name="batch_latency_ms_p95", label="Batch latency p95", unit="ms", direction="lower"),
    Metric(name="dimension", label="Dimension", unit="", direction="higher"),
)


def make_run(
    run_id: str, summary: dict[str, Any], minutes: int = 0, model: str = "llama3.2:1b", modality: str = "text"
) -> RunRecord:
    return RunRecord(
        id=run_id,
        created_at=T0 + timedelta(minutes=minutes),
        modality=modality,
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

    comparison = compare([a, b], METRICS)

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

    comparison = compare(runs, METRICS)

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

    assert row(compare(runs, METRICS), key).winner == 1


def test_missing_metric_has_no_value_and_the_winner_is_among_the_rest() -> None:
    runs = [
        make_run("run-a", summary(tps=40.0, ttft_ms=100.0)),
        make_run("run-b", summary(ttft_ms=90.0), minutes=1),  # no tps at all
        make_run("run-c", summary(tps=30.0, ttft_ms=110.0), minutes=2),
    ]

    tps = row(compare(runs, METRICS), "avg_tps")

    assert tps.values == [40.0, None, 30.0]
    assert tps.winner == 0
    assert tps.diff_pct == [None, None, pytest.approx(-25.0)]


def test_metric_missing_from_the_first_run_leaves_every_diff_undefined() -> None:
    runs = [make_run("run-a", summary(ttft_ms=100.0)), make_run("run-b", summary(tps=30.0, ttft_ms=90.0), minutes=1)]

    tps = row(compare(runs, METRICS), "avg_tps")

    assert tps.values == [None, 30.0]
    assert tps.winner == 1
    assert tps.diff_pct == [None, None]


def test_metric_missing_from_every_run_has_no_winner() -> None:
    runs = [make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)]
    comparison = compare(runs, METRICS)

    itl = row(comparison, "avg_itl_ms_p95")

    assert itl.values == [None, None]
    assert itl.winner is None
    assert itl.diff_pct == [None, None]


def test_first_value_zero_gives_no_diff() -> None:
    runs = [make_run("run-a", summary(ttft_ms=0.0)), make_run("run-b", summary(ttft_ms=50.0), minutes=1)]

    ttft = row(compare(runs, METRICS), "avg_ttft_ms")

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

    tps = row(compare(runs, METRICS), "avg_tps")

    assert tps.values == [40.0, None, 20.0]
    assert tps.winner == 0
    assert tps.diff_pct == [None, None, pytest.approx(-50.0)]


def test_nan_in_the_first_run_is_missing_not_a_poisoned_diff() -> None:
    runs = [make_run("run-a", {"tps": {"mean": math.nan}}), make_run("run-b", {"tps": {"mean": 20.0}}, minutes=1)]

    tps = row(compare(runs, METRICS), "avg_tps")

    assert tps.values == [None, 20.0]
    assert tps.winner == 1
    assert tps.diff_pct == [None, None]


def test_comparison_serialises_to_json_without_nan() -> None:
    runs = [make_run("run-a", {"tps": {"mean": math.nan}}), make_run("run-b", summary(tps=20.0), minutes=1)]

    text = compare(runs, METRICS).model_dump_json()

    assert "NaN" not in text
    assert '"created_at":"2025-03-01T12:00:00+00:00"' in text


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_runs_is_a_config_error(count: int) -> None:
    runs = [make_run(f"run-{i}", summary(tps=1.0)) for i in range(count)]

    with pytest.raises(ConfigError, match="at least two runs"):
        compare(runs, METRICS)


def test_rows_are_the_headline_metric_by_mean_min_and_max_then_every_other_by_mean() -> None:
    runs = [make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)]
    comparison = compare(runs, METRICS)

    assert [(r.key, r.label, r.metric, r.unit, r.direction) for r in comparison.rows] == [
        ("avg_tps", "Avg TPS", "tps", "tok/s", "higher"),
        ("min_tps", "Min TPS", "tps", "tok/s", "higher"),
        ("max_tps", "Max TPS", "tps", "tok/s", "higher"),
        ("avg_ttft_ms", "Avg TTFT", "ttft_ms", "ms", "lower"),
        ("avg_itl_ms_p95", "Avg ITL p95", "itl_ms_p95", "ms", "lower"),
    ]
    stats = [(r.key, r.stat) for r in compared(METRICS)][:3]
    assert stats == [("avg_tps", "mean"), ("min_tps", "min"), ("max_tps", "max")]


def test_a_plugin_metric_set_compares_by_its_own_metrics_and_directions() -> None:
    runs = [
        make_run("run-a", {"embeddings_per_s": {"mean": 120.0, "min": 100.0, "max": 130.0},
                           "batch_latency_ms_p95": {"mean": 40.0}, "dimension": {"mean": 768}}, modality="embeddings"),
        make_run("run-b", {"embeddings_per_s": {"mean": 90.0, "min": 85.0, "max": 140.0},
                           "batch_latency_ms_p95": {"mean": 30.0}, "dimension": {"mean": 1024}}, minutes=1,
                 modality="embeddings"),
    ]

    comparison = compare(runs, EMBEDDINGS)

    assert [r.key for r in comparison.rows] == [
        "avg_embeddings_per_s", "min_embeddings_per_s", "max_embeddings_per_s", "avg_batch_latency_ms_p95",
        "avg_dimension"]
    assert [(r.label, r.winner) for r in comparison.rows] == [
        ("Avg Embeddings/s", 0), ("Min Embeddings/s", 0), ("Max Embeddings/s", 1),
        ("Avg Batch latency p95", 1),  # lower is better
        ("Avg Dimension", 1),
    ]
    assert row(comparison, "avg_embeddings_per_s").diff_pct == [None, pytest.approx(-25.0)]


def test_an_empty_metric_set_compares_the_runs_by_nothing() -> None:
    runs = [make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)]
    comparison = compare(runs, ())

    assert comparison.rows == [] and len(comparison.runs) == 2


class Embeddings(Modality):
    name = "embeddings"
    label = "Embeddings"
    metrics = EMBEDDINGS


class Chat(Modality):
    name = "chat"
    label = "Chat"
    metrics = (METRICS[1], Metric(name="score", label="Score", unit="", direction="higher"))


def test_metric_set_is_the_runs_modalities_metrics_in_order_each_once() -> None:
    modalities: dict[str, Modality] = {"text": Chat(), "embeddings": Embeddings()}  # keyed as the runs name them
    runs = [make_run("a", {}, modality="embeddings"), make_run("b", {}, modality="text"),
            make_run("c", {}, modality="embeddings"), make_run("d", {}, modality="uninstalled")]

    assert metric_set(modalities, runs) == (*EMBEDDINGS, *Chat.metrics)
    assert metric_set(modalities, runs[3:]) == ()  # a plugin no longer installed: its metrics are unknown


def test_text_runs_compare_by_the_installed_text_modality_metric_set() -> None:
    registry = load_registry()
    text = registry.modality("text")
    runs = [make_run("run-a", summary(tps=1.0)), make_run("run-b", summary(tps=2.0), minutes=1)]

    comparison = compare(runs, metric_set(registry.modalities, runs))

    assert [r.key for r in comparison.rows] == [c.key for c in compared(text.metrics)]
    assert [r.key for r in comparison.rows][:4] == ["avg_tps", "min_tps", "max_tps", "avg_ttft_ms"]
    assert row(comparison, "avg_tps").winner == 1
