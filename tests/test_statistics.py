"""The comparison's statistics against known answers: scipy's own results for fixed samples, and what a
comparison table shows with them (intervals, "within noise", a run too short to tell a 5 % change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats

from llamaburn.plugin import Metric
from llamaburn.service.compare import compare, samples
from llamaburn.service.statistics import estimate, finite, iterations_needed, too_short, welch
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store

BASE = [101.2, 99.8, 100.5, 98.9, 100.1, 99.6, 100.9, 99.3]
SLOWER = [80.4, 79.1, 81.0, 79.8, 80.2, 80.9, 79.5, 80.6]
NOISY = [60.0, 140.0, 75.0, 120.0, 55.0, 135.0, 70.0, 110.0]
TPS = (Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_interval_is_scipys_student_t_interval() -> None:
    found = estimate(BASE)
    assert found is not None
    low, high = stats.t.interval(0.95, len(BASE) - 1, loc=stats.tmean(BASE), scale=stats.sem(BASE))
    assert (found.low, found.high) == (pytest.approx(low), pytest.approx(high))
    assert found.mean == pytest.approx(100.0375)
    assert found.cv_pct == pytest.approx(stats.variation(BASE, ddof=1) * 100)


def test_welch_is_scipys_unequal_variance_t_test() -> None:
    expected = stats.ttest_ind(BASE, NOISY, equal_var=False).pvalue
    noisy = welch(BASE, NOISY)
    assert noisy.p_value == pytest.approx(expected) and not noisy.significant
    slower = welch(BASE, SLOWER)
    assert slower.p_value == pytest.approx(stats.ttest_ind(BASE, SLOWER, equal_var=False).pvalue)
    assert slower.p_value is not None and slower.p_value < 1e-10 and slower.significant


def test_runs_without_spread_differ_exactly_when_their_means_do() -> None:
    assert welch([5.0, 5.0], [5.0, 5.0]).significant is False
    assert welch([5.0, 5.0], [4.0, 4.0]).significant is True
    assert welch([5.0], [4.0, 4.0]).p_value is None  # one iteration: nothing is known


def test_a_single_iteration_has_a_mean_but_no_interval() -> None:
    found = estimate([42.0])
    assert found is not None and (found.n, found.mean, found.low, found.high) == (1, 42.0, None, None)
    assert estimate([]) is None
    assert finite([1, None, "x", float("nan"), True, 2.5]) == [1.0, 2.5]


def test_iterations_needed_for_a_five_percent_change() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)  # 2.80
    assert iterations_needed(10.0) == int(-(-2 * (z * 10 / 5) ** 2 // 1)) == 63
    assert iterations_needed(1.0) == 2
    noisy = estimate(NOISY)
    warning = too_short(noisy, "TPS")
    assert noisy is not None and noisy.cv_pct is not None
    assert warning == (
        f"8 iterations with a CV of {noisy.cv_pct:.1f}% cannot tell a 5% change in TPS: "
        f"run at least {iterations_needed(noisy.cv_pct)}"
    )
    assert too_short(estimate(BASE), "TPS") is None


def _stored(store: Store, run_id: str, values: list[float], minutes: int) -> RunRecord:
    stats_ = {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
    run = RunRecord(
        id=run_id, created_at=T0 + timedelta(minutes=minutes), modality="text", backend="ollama", model="m",
        status="completed", summary={"tps": stats_},
    )
    store.create_run(run)
    store.add_iteration(IterationRecord(run_id=run_id, index=0, warmup=True, metrics={"tps": 1.0}))
    for index, value in enumerate(values, 1):
        store.add_iteration(IterationRecord(run_id=run_id, index=index, metrics={"tps": value, "note": "x"}))
    return run


def test_a_comparison_shows_intervals_and_names_no_winner_within_noise() -> None:
    store = Store()
    runs = [_stored(store, "base", BASE, 0), _stored(store, "noisy", NOISY, 1), _stored(store, "slow", SLOWER, 2)]
    found = samples(store, runs)
    assert found["base"]["tps"] == BASE  # the warmup is not a sample, nor a value that is not a number
    table = compare(runs[:2], TPS, found)
    avg = table.rows[0]
    assert avg.key == "avg_tps" and avg.winner is None and avg.within_noise  # 100 vs 96: noise
    assert avg.significant == [None, False]
    assert avg.intervals[0] == estimate(BASE)
    assert table.runs[0].warning is None and table.runs[0].iterations == 8
    assert table.runs[1].warning is not None and "run at least" in table.runs[1].warning
    assert [row.intervals for row in table.rows[1:]] == [[], []]  # min and max rows have no interval

    slower = compare([runs[0], runs[2]], TPS, found).rows[0]
    assert slower.winner == 0 and not slower.within_noise and slower.significant == [None, True]


def test_without_samples_the_comparison_is_the_summary_table() -> None:
    runs = [_stored(Store(), "a", BASE, 0), _stored(Store(), "b", NOISY, 1)]
    avg = compare(runs, TPS).rows[0]
    assert avg.winner == 0 and avg.intervals == [] and not avg.within_noise


SKEWED = [10.0, 11.0, 10.0, 12.0, 10.0, 11.0, 10.0, 40.0, 10.0, 11.0, 12.0, 10.0]
SKEWED_SLOWER = [13.0, 12.0, 14.0, 13.0, 12.0, 15.0, 13.0, 50.0, 13.0, 14.0, 12.0, 13.0]


def test_a_skewed_run_is_resampled_as_scipy_does() -> None:
    import numpy as np

    found = estimate(SKEWED)
    assert found is not None and found.method == "bootstrap"
    expected = stats.bootstrap((np.asarray(SKEWED),), np.mean, confidence_level=0.95, method="BCa",
                               n_resamples=9999, rng=np.random.default_rng(0)).confidence_interval
    assert (found.low, found.high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert found.low is not None and found.low > min(SKEWED)  # not t's symmetric interval, which dips below
    test = welch(SKEWED, SKEWED_SLOWER)
    permuted = stats.permutation_test(
        (np.asarray(SKEWED), np.asarray(SKEWED_SLOWER)),
        lambda a, b, axis: np.mean(b, axis=axis) - np.mean(a, axis=axis),
        vectorized=True, n_resamples=9999, rng=np.random.default_rng(0),
    )
    assert test.method == "permutation" and test.p_value == pytest.approx(permuted.pvalue)
    short = estimate(SKEWED[:8])
    assert short is not None and short.method == "t"  # too few to resample: Student's t stays


def test_llamaburn_compare_prints_intervals_and_within_noise(capsys: pytest.CaptureFixture[str]) -> None:
    from llamaburn.cli import main

    store = Store()
    _stored(store, "base-run", BASE, 0)
    _stored(store, "noisy-run", NOISY, 1)
    assert main(["compare", "base-run", "noisy-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    avg = next(line for line in lines if line.startswith("Avg TPS"))
    found = estimate(BASE)
    assert found is not None and found.low is not None and found.high is not None
    assert f"100.04 [{found.low:.2f}, {found.high:.2f}]" in avg
    assert "within noise" in avg.split("]")[-1] and avg.rstrip().endswith("within noise")
    assert any(line.startswith("m (noisy-ru): 8 iterations with a CV of") for line in lines)
