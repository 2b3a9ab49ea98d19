"""``llamaburn history``, ``compare`` and ``export``: the stored runs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from llamaburn.cli.commands import print_json

if TYPE_CHECKING:
    from llamaburn.service.compare import Comparison, ComparisonRow
    from llamaburn.storage.store import Store


def history(args: argparse.Namespace) -> int:
    from llamaburn.cli.terminal import table
    from llamaburn.engine.format import titled
    from llamaburn.engine.registry import load_registry
    from llamaburn.storage.store import Store

    store = Store()
    if args.by_host:
        return _hosts(store, args.json)
    if args.by_sweep:
        return _sweeps(store, args.json)
    runs = store.list_runs(limit=args.limit, offset=args.offset, host=args.host, sweep=args.sweep)
    if args.json:
        print_json([run.model_dump(mode="json") for run in runs])
        return 0
    modalities = load_registry().modalities

    def headline(run: Any) -> list[Any]:
        """The run's headline metric (its modality's first) and its mean; blanks if the plugin is gone."""
        modality = modalities.get(run.modality)
        if modality is None or not modality.metrics:
            return [None, None]
        metric = modality.metrics[0]
        mean = (run.summary.get(metric.name) or {}).get("mean")
        return [titled(metric), mean]

    print(
        table(
            ["id", "date (UTC)", "host", "modality", "backend", "model", "status", "metric", "mean"],
            [
                [
                    run.id[:8],
                    run.created_at.strftime("%Y-%m-%d %H:%M"),
                    run.host or "-",
                    run.modality,
                    run.backend,
                    run.model,
                    run.status,
                    *headline(run),
                ]
                for run in runs
            ],
        )
    )
    return 0


def _hosts(store: Store, as_json: bool) -> int:
    """``history --by-host``: one line per host, with its run count and its latest run."""
    from llamaburn.cli.terminal import table

    hosts = store.hosts()
    if as_json:
        print_json([{"host": h.host, "runs": h.runs, "latest": h.latest.isoformat()} for h in hosts])
        return 0
    lines = [[h.host or "-", h.runs, f"{h.latest:%Y-%m-%d %H:%M}"] for h in hosts]
    print(table(["host", "runs", "latest (UTC)"], lines))
    return 0


def _sweeps(store: Store, as_json: bool) -> int:
    """``history --by-sweep``: one line per sweep, newest first, with the full id ``sweep --resume`` takes."""
    from dataclasses import asdict

    from llamaburn.cli.terminal import table
    from llamaburn.engine.registry import load_registry
    from llamaburn.service.sweep_history import summaries

    found = summaries(store, load_registry())
    if as_json:
        print_json([asdict(summary) for summary in found])
        return 0
    lines = [
        [s.sweep_id, f"{s.started:%Y-%m-%d %H:%M}", ", ".join(s.models), s.points,
         f"{s.completed} of {s.expected if s.expected is not None else s.runs}", s.status]
        for s in found
    ]
    print(table(["sweep", "started (UTC)", "models", "points", "runs completed", "status"], lines))
    return 0


def compare(args: argparse.Namespace) -> int:
    from llamaburn.cli.terminal import table
    from llamaburn.engine.format import titled
    from llamaburn.engine.registry import load_registry
    from llamaburn.service.compare import compare, metric_set, samples
    from llamaburn.storage.store import Store

    store = Store()
    runs = store.get_runs(args.run_ids)
    comparison = compare(runs, metric_set(load_registry().modalities, runs), samples(store, runs))
    if args.json:
        print_json(comparison.model_dump(mode="json"))
        return 0
    headers = [
        "metric",
        "better",
        *(c.label for c in comparison.runs),
        *(f"diff {c.id[:8]}" for c in comparison.runs[1:]),
        "winner",
    ]
    blank = [""] * (len(comparison.runs) - 1)
    rows: list[list[Any]] = [
        ["Size", "", *(c.parameter_size or "-" for c in comparison.runs), *blank, ""],
        ["Quant", "", *(c.quantization or "-" for c in comparison.runs), *blank, ""],
    ]
    for row in comparison.rows:
        rows.append([titled(row), row.direction, *_cells(row), *_diffs(row), _winner(comparison, row)])
    print(table(headers, rows))
    for column in comparison.runs:
        if column.warning:
            print(f"{column.label}: {column.warning}")
    return 0


def _cells(row: ComparisonRow) -> list[Any]:
    """A mean row's values with their 95 % intervals, ``45.20 [44.10, 46.30]``; other rows' plain values."""
    if not row.intervals:
        return list(row.values)
    cells: list[Any] = []
    for value, interval in zip(row.values, row.intervals, strict=True):
        if value is None or interval is None or interval.low is None or interval.high is None:
            cells.append(value)
        else:
            cells.append(f"{value:.2f} [{interval.low:.2f}, {interval.high:.2f}]")
    return cells


def _diffs(row: ComparisonRow) -> list[str]:
    """Each run's difference to the first, marked ``within noise`` where Welch's test finds none."""
    cells = []
    for index, diff in enumerate(row.diff_pct[1:], 1):
        noise = row.significant and row.significant[index] is False
        cells.append("-" if diff is None else f"{diff:+.1f}%" + (" within noise" if noise else ""))
    return cells


def _winner(comparison: Comparison, row: ComparisonRow) -> str:
    if row.within_noise:
        return "within noise"
    return comparison.runs[row.winner].id[:8] if row.winner is not None else "-"


def export(args: argparse.Namespace) -> int:
    from llamaburn.storage.export import write_csv, write_json
    from llamaburn.storage.store import Store

    (write_csv if args.format == "csv" else write_json)(Store(), sys.stdout)
    return 0


def import_runs(args: argparse.Namespace) -> int:
    """``llamaburn import FILE``: idempotent by run id, so pushing a laptop's history twice adds nothing."""
    import json

    from llamaburn.errors import ConfigError
    from llamaburn.storage.store import Store

    try:
        data = json.loads(args.file.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{args.file} is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{args.file} is not a LlamaBurn JSON export: expected a list of runs")
    added, skipped = Store().import_runs(data)
    print(f"imported {added} run{'s' if added != 1 else ''}, skipped {skipped} already here")
    return 0
