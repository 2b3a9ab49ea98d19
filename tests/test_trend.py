"""Change points in a model's trend: a significant move from the previous run, and what changed with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scipy import stats

from llamaburn.service.trend import change_points
from llamaburn.storage.records import RunRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEADY = [101.2, 99.8, 100.5, 98.9, 100.1]
STEADY_TOO = [100.4, 99.1, 101.0, 99.9, 100.6]
SLOWER = [80.4, 79.1, 81.0, 79.8, 80.2]
NOISY = [60.0, 140.0, 75.0, 120.0, 55.0]


def run(run_id: str, minutes: int, version: str, host: str = "box") -> RunRecord:
    return RunRecord(id=run_id, created_at=T0 + timedelta(minutes=minutes), modality="text", backend="ollama",
                     model="m", host=host, status="completed", system={"backend_version": version, "hostname": host})


def test_a_significant_move_is_a_change_point_naming_what_changed() -> None:
    runs = [run("a", 0, "0.12.3"), run("b", 1, "0.12.3"), run("c", 2, "0.12.5"), run("d", 3, "0.12.5", "lab-2")]
    found = {"a": {"tps": STEADY}, "b": {"tps": STEADY_TOO}, "c": {"tps": SLOWER}, "d": {"tps": NOISY}}
    [point] = change_points(runs, "tps", found)  # a -> b is noise, c -> d is within d's noise
    assert (point.index, point.run_id) == (2, "c")
    assert point.p_value == stats.ttest_ind(STEADY_TOO, SLOWER, equal_var=False).pvalue
    assert point.change_pct is not None and round(point.change_pct) == -20
    assert point.changed == ["backend version 0.12.3 -> 0.12.5"]


def test_a_run_too_short_to_test_is_never_a_change_point() -> None:
    runs = [run("a", 0, "1"), run("b", 1, "2")]
    assert change_points(runs, "tps", {"a": {"tps": STEADY}, "b": {"tps": [50.0]}}) == []
    assert change_points(runs, "tps", {}) == []
