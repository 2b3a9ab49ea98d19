"""Side-by-side comparison of runs, shared by the CLI, the UI and the API.

The rows come from the runs' declared metric set, so a plugin's modality compares by its own metrics: the
headline (first) metric's mean, min and max, then each other metric's mean. For each row: every run's
value, the winner (by the metric's better direction), and each run's difference against the first run,
``(other - first) / first * 100``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import Modality
from llamaburn.errors import ConfigError
from llamaburn.storage.store import RunRecord

HEADLINE_STATS = (("avg", "mean", "Avg"), ("min", "min", "Min"), ("max", "max", "Max"))
"""The statistics the headline metric is compared by; every other metric is compared by the first."""


class Compared(BaseModel):
    """A row of the table: ``stat`` of the per-iteration ``metric`` in each run's summary."""

    key: str
    label: str
    metric: str
    stat: str
    unit: str
    direction: Literal["higher", "lower"]


def compared(metrics: Sequence[Metric]) -> list[Compared]:
    """The rows for a metric set, keyed ``<avg|min|max>_<metric name>``: ``avg_tps``, ``min_tps``..."""
    rows = []
    for position, metric in enumerate(metrics):
        for prefix, stat, word in HEADLINE_STATS if position == 0 else HEADLINE_STATS[:1]:
            rows.append(
                Compared(
                    key=f"{prefix}_{metric.name}",
                    label=f"{word} {metric.label}",
                    metric=metric.name,
                    stat=stat,
                    unit=metric.unit,
                    direction=metric.direction,
                )
            )
    return rows


def metric_set(modalities: Mapping[str, Modality], runs: Iterable[RunRecord]) -> tuple[Metric, ...]:
    """The metrics the runs' modalities declare, in order of first appearance, each name once.

    A run whose modality is no longer installed adds nothing: what its numbers mean (label, unit, which
    way is better) was the plugin's to say.
    """
    found: dict[str, Metric] = {}
    for run in runs:
        if (modality := modalities.get(run.modality)) is not None:
            for metric in modality.metrics:
                found.setdefault(metric.name, metric)
    return tuple(found.values())


class RunColumn(BaseModel):
    id: str
    label: str
    """How every face names the run: ``model (id8)``, or ``model @ host (id8)`` when the runs compared
    come from more than one host, so the same sweep on several machines reads apart in one table."""
    model: str
    host: str | None = None
    backend: str
    modality: str
    created_at: str
    status: str
    parameter_size: str | None = None
    quantization: str | None = None


class ComparisonRow(BaseModel):
    key: str
    label: str
    metric: str
    """The metric's name: the key in each iteration's metrics and the run's summary."""
    unit: str
    direction: Literal["higher", "lower"]
    values: list[float | None]
    winner: int | None
    """Index of the best run, ``None`` when no run has a value."""
    diff_pct: list[float | None]
    """Each run against the first; ``None`` for the first run itself and where it is undefined."""


class Comparison(BaseModel):
    runs: list[RunColumn]
    rows: list[ComparisonRow]


def _value(run: RunRecord, compared: Compared) -> float | None:
    value = (run.summary.get(compared.metric) or {}).get(compared.stat)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _winner(values: list[float | None], direction: str) -> int | None:
    known = [(value, index) for index, value in enumerate(values) if value is not None]
    if not known:
        return None
    pick = max if direction == "higher" else min
    return pick(known, key=lambda pair: pair[0])[1]  # on a tie, the earliest run wins


def _diff_pct(first: float | None, other: float | None) -> float | None:
    if first is None or other is None or first == 0:
        return None
    return (other - first) / first * 100


def compare(runs: list[RunRecord], metrics: Sequence[Metric]) -> Comparison:
    """Compare ``runs`` by ``metrics``.

    Each face passes ``metric_set(registry.modalities, runs)`` from the registry it already holds, so that it
    compares by the modalities it shows, and this module never loads plugins itself.
    """
    if len(runs) < 2:
        raise ConfigError(f"comparing needs at least two runs, got {len(runs)}")
    rows = []
    for row in compared(metrics):
        values = [_value(run, row) for run in runs]
        rows.append(
            ComparisonRow(
                key=row.key,
                label=row.label,
                metric=row.metric,
                unit=row.unit,
                direction=row.direction,
                values=values,
                winner=_winner(values, row.direction),
                diff_pct=[None, *(_diff_pct(values[0], value) for value in values[1:])],
            )
        )
    several_hosts = len({run.host for run in runs}) > 1
    columns = [
        RunColumn(
            id=run.id,
            label=f"{run.model} @ {run.host or 'unknown host'} ({run.id[:8]})" if several_hosts
            else f"{run.model} ({run.id[:8]})",
            model=run.model,
            host=run.host,
            backend=run.backend,
            modality=run.modality,
            created_at=run.created_at.isoformat(),
            status=run.status,
            parameter_size=(run.model_info or {}).get("parameter_size"),
            quantization=(run.model_info or {}).get("quantization"),
        )
        for run in runs
    ]
    return Comparison(runs=columns, rows=rows)
