"""How numbers and dates read on screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from llamaburn.metrics import Metric


def number(value: Any, unit: str = "", digits: int = 1) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


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


def titled(metric: Metric) -> str:
    """A metric's label with its unit, as a column or axis title: 'TPS (tok/s)', or 'Dimension' with none."""
    return f"{metric.label} ({metric.unit})" if metric.unit else metric.label
