"""All stored runs as JSON (runs with their iterations) or CSV (one row per iteration, for spreadsheets)."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from llamaburn.storage.store import Store

PAGE = 500
RUN_COLUMNS = ("run_id", "created_at", "modality", "backend", "model", "status", "iteration", "warmup")


def _runs(store: Store) -> Any:
    offset = 0
    while page := store.list_runs(limit=PAGE, offset=offset):
        yield from page
        offset += PAGE


def write_json(store: Store, out: TextIO) -> None:
    runs = []
    for run in _runs(store):
        data = run.model_dump(mode="json")
        data["iterations"] = [
            {"index": it.index, "warmup": it.warmup, "prompt": it.prompt, "output": it.output, "metrics": it.metrics}
            for it in store.iterations(run.id)
        ]
        runs.append(data)
    json.dump(runs, out, indent=2)
    out.write("\n")


def write_csv(store: Store, out: TextIO) -> None:
    rows: list[dict[str, Any]] = []
    metric_names: dict[str, None] = {}
    for run in _runs(store):
        for it in store.iterations(run.id):
            scalars = {name: value for name, value in it.metrics.items() if not isinstance(value, dict | list)}
            metric_names.update(dict.fromkeys(scalars))
            rows.append(
                {
                    "run_id": run.id,
                    "created_at": run.created_at.isoformat(),
                    "modality": run.modality,
                    "backend": run.backend,
                    "model": run.model,
                    "status": run.status,
                    "iteration": it.index,
                    "warmup": it.warmup,
                    **scalars,  # a cell per number; the telemetry's samples stay in the JSON export
                }
            )
    writer = csv.DictWriter(out, fieldnames=[*RUN_COLUMNS, *metric_names], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
