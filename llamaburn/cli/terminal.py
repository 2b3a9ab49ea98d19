"""Terminal output for the CLI: live progress while a run streams, and plain-text tables afterwards."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any, TextIO

from llamaburn.engine.bus import Subscription
from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    IterationComplete,
    IterationStart,
    Token,
    Warmup,
    WarmupComplete,
)
from llamaburn.engine.format import metric_line
from llamaburn.engine.metrics import Metric

BAR_WIDTH = 20


def bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + f"] {done}/{total}"


async def show_progress(subscription: Subscription, out: TextIO, metrics: Sequence[Metric]) -> None:
    """Print a run's progress bar, its streaming text and each iteration's ``metrics`` as they arrive."""
    width = shutil.get_terminal_size((100, 20)).columns
    async for event in subscription:
        match event:
            case Warmup():
                out.write(f"\nwarmup {event.current}/{event.total}\n")
            case WarmupComplete():
                out.write(f"\n  warmup done: {metric_line(event.metrics, metrics)}\n")
            case IterationStart():
                preview = event.prompt.replace("\n", " ")[: max(20, width - 40)]
                out.write(
                    f"\n{bar(event.iteration - 1, event.total)}  iteration {event.iteration}/{event.total}  {preview}\n"
                )
            case Token():
                out.write(event.text)
            case IterationComplete():
                out.write(f"\n  iteration {event.iteration}: {metric_line(event.metrics, metrics)}\n")
            case Complete():
                out.write("\ndone\n")
            case Cancelled():
                out.write("\ncancelled: completed iterations are kept\n")
            case Error():
                out.write(f"\nerror: {event.message}\n")
        out.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table; numbers are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [
        any(isinstance(row[i], int | float) for row in rows)
        and all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]).rstrip()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def summary_table(summary: dict[str, dict[str, float]]) -> str:
    stats = ("mean", "min", "max", "stdev", "p50", "p90", "p99")
    return table(["metric", *stats], [[name, *(values[s] for s in stats)] for name, values in summary.items()])
