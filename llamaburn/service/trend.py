"""Change points in a model's trend: the runs where a metric moved significantly from the run before, and
what changed with it (the backend's version, the host, the backend).

The test is the simplest one that holds up: Welch's t-test between each run's iterations and the previous
run's (``statistics.welch``), so a point is marked only when the move is beyond both runs' noise. A run too
short to test (fewer than 2 iterations) is never a change point.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from llamaburn.service.compare import Samples
from llamaburn.service.statistics import welch
from llamaburn.storage.records import RunRecord

WATCHED = (("backend_version", "backend version"), ("hostname", "host"), ("backend", "backend"))
"""The system snapshot's fields whose change a change point names, with the words for them."""


class ChangePoint(BaseModel):
    index: int
    """The run's position in the trend (oldest first)."""
    run_id: str
    change_pct: float | None
    """The mean's move from the previous run, ``(mean - previous) / |previous| * 100``."""
    p_value: float
    changed: list[str]
    """What else changed since the previous run: ``"backend version 0.12.3 -> 0.12.5"``; empty if nothing."""


def _changed(before: RunRecord, after: RunRecord) -> list[str]:
    found = []
    for key, words in WATCHED:
        old, new = (before.system or {}).get(key), (after.system or {}).get(key)
        if key == "backend":
            old, new = before.backend, after.backend
        if old != new:
            found.append(f"{words} {old or '-'} -> {new or '-'}")
    return found


def change_points(runs: Sequence[RunRecord], metric: str, found: Samples) -> list[ChangePoint]:
    """The runs (oldest first) whose ``metric`` differs significantly from the previous run's."""
    points = []
    for index in range(1, len(runs)):
        before, after = runs[index - 1], runs[index]
        old = list(found.get(before.id, {}).get(metric, []))
        new = list(found.get(after.id, {}).get(metric, []))
        test = welch(old, new)
        if test.p_value is None or not test.significant:
            continue
        old_mean, new_mean = sum(old) / len(old), sum(new) / len(new)
        change = (new_mean - old_mean) / abs(old_mean) * 100 if old_mean else None
        points.append(
            ChangePoint(index=index, run_id=after.id, change_pct=change, p_value=test.p_value,
                        changed=_changed(before, after))
        )
    return points
