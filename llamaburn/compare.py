"""Side-by-side comparison of runs, shared by the CLI, the UI and the API.

For each metric: every run's value, the winner (aware of direction), and each run's difference against
the first run, ``(other - first) / first * 100``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel

from llamaburn.errors import ConfigError
from llamaburn.store import RunRecord


class Compared(BaseModel):
    """A row of the table: ``stat`` of the per-iteration ``metric`` in each run's summary."""

    key: str
    label: str
    metric: str
    stat: str
    unit: str
    direction: Literal["higher", "lower"]


COMPARED = (
    Compared(key="avg_tps", label="Avg TPS", metric="tps", stat="mean", unit="tok/s", direction="higher"),
    Compared(key="avg_ttft_ms", label="Avg TTFT", metric="ttft_ms", stat="mean", unit="ms", direction="lower"),
    Compared(key="min_tps", label="Min TPS", metric="tps", stat="min", unit="tok/s", direction="higher"),
    Compared(key="max_tps", label="Max TPS", metric="tps", stat="max", unit="tok/s", direction="higher"),
    Compared(key="itl_p50_ms", label="ITL p50", metric="itl_ms_p50", stat="mean", unit="ms", direction="lower"),
    Compared(key="itl_p95_ms", label="ITL p95", metric="itl_ms_p95", stat="mean", unit="ms", direction="lower"),
    Compared(key="avg_total_ms", label="Total time", metric="total_ms", stat="mean", unit="ms", direction="lower"),
)


class RunColumn(BaseModel):
    id: str
    model: str
    backend: str
    modality: str
    created_at: str
    status: str
    parameter_size: str | None = None
    quantization: str | None = None


class ComparisonRow(BaseModel):
    key: str
    label: str
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


def compare(runs: list[RunRecord]) -> Comparison:
    if len(runs) < 2:
        raise ConfigError(f"comparing needs at least two runs, got {len(runs)}")
    rows = []
    for compared in COMPARED:
        values = [_value(run, compared) for run in runs]
        rows.append(
            ComparisonRow(
                key=compared.key,
                label=compared.label,
                unit=compared.unit,
                direction=compared.direction,
                values=values,
                winner=_winner(values, compared.direction),
                diff_pct=[None, *(_diff_pct(values[0], value) for value in values[1:])],
            )
        )
    columns = [
        RunColumn(
            id=run.id,
            model=run.model,
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
