"""Side-by-side comparison of runs, shared by the CLI, the UI and the API.

The rows come from the runs' declared metric set, so a plugin's modality compares by its own metrics: the
headline (first) metric's mean, min and max, then each other metric's mean. For each row: every run's
value, the winner (by the metric's better direction), and each run's difference against the first run,
``(other - first) / first * 100``.

Given the runs' iterations (``samples``), each mean row also carries every run's 95 % confidence interval
and Welch's test against the first run, and its winner must lead the runner-up significantly: a lead
within noise names no winner (``within_noise``). Each run gets its headline metric's coefficient of
variation and a warning when it is too short to tell a 5 % change (``service/statistics.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import Modality
from llamaburn.engine.telemetry import TELEMETRY_METRICS
from llamaburn.errors import ConfigError
from llamaburn.service.statistics import Estimate, estimate, finite, too_short, welch
from llamaburn.storage.records import RunRecord
from llamaburn.storage.store import Store

Samples = Mapping[str, Mapping[str, Sequence[float]]]
"""Each run's counted iterations, by run id, then metric name: what ``samples`` reads from a store."""

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
    """The metrics the runs' modalities declare, in order of first appearance, each name once, then the
    machine telemetry (``TELEMETRY_METRICS``) that any of the runs recorded.

    A run whose modality is no longer installed adds nothing: what its numbers mean (label, unit, which
    way is better) was the plugin's to say.
    """
    found: dict[str, Metric] = {}
    runs = list(runs)
    for run in runs:
        if (modality := modalities.get(run.modality)) is not None:
            for metric in modality.metrics:
                found.setdefault(metric.name, metric)
    recorded = {name for run in runs for name in run.summary}
    for metric in TELEMETRY_METRICS:
        if metric.name in recorded and found:
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
    iterations: int | None = None
    """Counted iterations of the headline metric; ``None`` when the comparison had no samples."""
    cv_pct: float | None = None
    """The headline metric's coefficient of variation over the run's iterations, in percent."""
    warning: str | None = None
    """Set when the run is too short to tell a 5 % change in its headline metric, with the iterations needed."""


class ComparisonRow(BaseModel):
    key: str
    label: str
    metric: str
    """The metric's name: the key in each iteration's metrics and the run's summary."""
    unit: str
    direction: Literal["higher", "lower"]
    values: list[float | None]
    winner: int | None
    """Index of the best run; ``None`` when no run has a value, or when its lead is within noise."""
    diff_pct: list[float | None]
    """Each run against the first; ``None`` for the first run itself and where it is undefined."""
    intervals: list[Estimate | None] = []
    """A mean row's 95 % confidence interval per run (empty for min/max rows and without samples)."""
    p_values: list[float | None] = []
    """Welch's two-sided p-value of each run against the first (``None`` for the first, or untestable)."""
    significant: list[bool | None] = []
    """Whether each run differs from the first beyond noise; ``None`` for the first run itself."""
    within_noise: bool = False
    """The best run's lead over the runner-up is not significant, so the row names no winner."""


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


def samples(store: Store, runs: Iterable[RunRecord]) -> dict[str, dict[str, list[float]]]:
    """Each run's counted iterations (warmups left out), by metric: the samples the statistics test."""
    found: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        columns: dict[str, list[object]] = {}
        for iteration in store.iterations(run.id):
            if not iteration.warmup:
                for name, value in iteration.metrics.items():
                    columns.setdefault(name, []).append(value)
        found[run.id] = {name: finite(values) for name, values in columns.items()}
    return found


def _row(runs: list[RunRecord], row: Compared, found: Samples | None) -> ComparisonRow:
    values = [_value(run, row) for run in runs]
    result = ComparisonRow(
        key=row.key,
        label=row.label,
        metric=row.metric,
        unit=row.unit,
        direction=row.direction,
        values=values,
        winner=_winner(values, row.direction),
        diff_pct=[None, *(_diff_pct(values[0], value) for value in values[1:])],
    )
    if found is None or row.stat != "mean":
        return result
    columns = [list(found.get(run.id, {}).get(row.metric, [])) for run in runs]
    tests = [welch(columns[0], column) for column in columns[1:]]
    result.intervals = [estimate(column) for column in columns]
    result.p_values = [None, *(test.p_value for test in tests)]
    result.significant = [None, *(test.significant if test.p_value is not None else None for test in tests)]
    if result.winner is not None:
        runner_up = _winner([v if i != result.winner else None for i, v in enumerate(values)], row.direction)
        if runner_up is not None:
            lead = welch(columns[result.winner], columns[runner_up])
            if lead.p_value is not None and not lead.significant:
                result.winner, result.within_noise = None, True
    return result


def _spread(column: RunColumn, metrics: Sequence[Metric], found: Samples | None) -> RunColumn:
    """``column`` with its headline metric's iteration count, coefficient of variation and too-short warning."""
    if found is None or not metrics:
        return column
    headline = estimate(found.get(column.id, {}).get(metrics[0].name, []))
    column.iterations = headline.n if headline else 0
    column.cv_pct = headline.cv_pct if headline else None
    column.warning = too_short(headline, metrics[0].label)
    return column


def compare(runs: list[RunRecord], metrics: Sequence[Metric], found: Samples | None = None) -> Comparison:
    """Compare ``runs`` by ``metrics``; with ``found`` (``samples(store, runs)``), with the statistics too.

    Each face passes ``metric_set(registry.modalities, runs)`` from the registry it already holds, so that it
    compares by the modalities it shows, and this module never loads plugins itself. A row whose runs have
    fewer than two iterations cannot be tested: it keeps its winner by value, and the runs' warnings say why
    the lead means little.
    """
    if len(runs) < 2:
        raise ConfigError(f"comparing needs at least two runs, got {len(runs)}")
    rows = [_row(runs, row, found) for row in compared(metrics)]
    several_hosts = len({run.host for run in runs}) > 1
    columns = [
        _spread(RunColumn(
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
        ), metrics, found)
        for run in runs
    ]
    return Comparison(runs=columns, rows=rows)
