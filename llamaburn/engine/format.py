"""How metrics, numbers and dates read, in the terminal and on screen alike: the CLI and the app both
format through here, so a label, a unit or a number never reads two ways."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import HEADLINE


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: Any, unit: str = "", digits: int = 1) -> str:
    """``1,234.5 tok/s``; ``-`` for what is not a number (a metric the server did not report)."""
    if not is_number(value):
        return "-"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


def iteration_value(value: Any, metric: Metric) -> str:
    """One iteration's value of ``metric`` as a table cell: its declared outcome word for a pass (100) or a
    fail (0), else the number with its unit."""
    if metric.outcomes is not None and is_number(value) and value in (100, 0):
        return metric.outcomes[0] if value == 100 else metric.outcomes[1]
    return number(value, metric.unit)


def metric_line(values: dict[str, Any], metrics: Sequence[Metric]) -> str:
    """The headline metrics of one iteration, by their labels: ``TPS 45.2 tok/s | TTFT 89.0 ms``, and a
    pass/fail metric by its outcome word (``Syntax validity invalid``), as the iteration table shows it."""
    return " | ".join(
        f"{metric.label} {iteration_value(values[metric.name], metric)}"
        for metric in metrics[:HEADLINE]
        if is_number(values.get(metric.name))
    )


def when(moment: datetime, now: datetime | None = None) -> str:
    """'Today 14:02', 'Yesterday 09:10' or '2026-11-02 17:45', in local time, as the spec's history shows."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone()
    today = (now or datetime.now().astimezone()).date()
    if local.date() == today:
        return f"Today {local:%H:%M}"
    if local.date() == today - timedelta(days=1):
        return f"Yesterday {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def mean(summary: dict[str, Any], metric: str) -> float | None:
    value = (summary.get(metric) or {}).get("mean")
    return round(value, 2) if isinstance(value, int | float) else None


class Labelled(Protocol):
    """A metric, or a comparison row of one: anything with a label and a unit."""

    @property
    def label(self) -> str: ...

    @property
    def unit(self) -> str: ...


def titled(metric: Labelled) -> str:
    """A metric's label with its unit, as a column or axis title: 'TPS (tok/s)', or 'Dimension' with none."""
    return f"{metric.label} ({metric.unit})" if metric.unit else metric.label
