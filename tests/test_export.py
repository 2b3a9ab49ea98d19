"""Exports of the whole history: JSON with every run's iterations, CSV with one row per iteration."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llamaburn.storage.export import RUN_COLUMNS, write_csv, write_json
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# (warmup, index, prompt, output, metrics) per run; run-a has a warmup, run-b does not.
ITERATIONS: dict[str, list[tuple[bool, int, str, str, dict[str, Any]]]] = {
    "run-a": [
        (True, 1, "Warm up, please.", "Warm, ready.", {"ttft_ms": 310.5, "tps": 40.25, "token_count_source": "server"}),
        (False, 1, "Explain recursion.", "A function that calls itself.", {"ttft_ms": 88.0, "tps": 45.5}),
        (
            False,
            2,
            "Explain recursion, again.",
            "Une fonction qui s'appelle, « encore ».",
            {"ttft_ms": 90.0, "tps": None},
        ),
    ],
    "run-b": [
        (False, 1, "Say hi, with a comma", "hi,\nthere", {"ttft_ms": 142.0, "tps": 28.1, "load_ms": 1200.0}),
    ],
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/h.db")
    for minutes, (run_id, model) in enumerate([("run-a", "llama3.2:1b"), ("run-b", "qwen2.5:7b")]):
        store.create_run(
            RunRecord(
                id=run_id,
                created_at=T0 + timedelta(minutes=minutes),
                modality="text",
                backend="ollama",
                model=model,
                status="running",
                config={"iterations": 2},
            )
        )
        # Written measured-first, to check exports follow the stored order, warmups first.
        for warmup, index, prompt, output, metrics in sorted(ITERATIONS[run_id], key=lambda it: it[0]):
            store.add_iteration(
                IterationRecord(
                    run_id=run_id, index=index, warmup=warmup, prompt=prompt, output=output, metrics=metrics
                )
            )
    store.finish_run("run-a", "completed", {"tps": {"mean": 45.5}}, None)
    store.finish_run("run-b", "failed", {}, "the server went away")
    return store


def test_json_export_has_every_run_with_its_iterations(store: Store) -> None:
    out = io.StringIO()

    write_json(store, out)

    runs = json.loads(out.getvalue())
    assert [run["id"] for run in runs] == ["run-b", "run-a"]  # newest first, like `history`
    by_id = {run["id"]: run for run in runs}
    assert by_id["run-a"]["model"] == "llama3.2:1b"
    assert by_id["run-a"]["status"] == "completed"
    assert by_id["run-a"]["summary"] == {"tps": {"mean": 45.5}}
    assert by_id["run-a"]["config"] == {"iterations": 2}
    assert by_id["run-b"]["error"] == "the server went away"
    assert datetime.fromisoformat(by_id["run-a"]["created_at"]) == T0
    for run_id, expected in ITERATIONS.items():
        assert [
            (it["warmup"], it["index"], it["prompt"], it["output"], it["metrics"]) for it in by_id[run_id]["iterations"]
        ] == expected


def test_json_export_of_an_empty_history_is_an_empty_list(tmp_path: Path) -> None:
    out = io.StringIO()

    write_json(Store(f"sqlite:///{tmp_path}/empty.db"), out)

    assert json.loads(out.getvalue()) == []


def test_csv_export_has_run_columns_then_metrics_and_one_row_per_iteration(store: Store) -> None:
    out = io.StringIO()

    write_csv(store, out)

    out.seek(0)
    reader = csv.DictReader(out)
    header = list(reader.fieldnames or [])
    rows = list(reader)
    assert header[: len(RUN_COLUMNS)] == list(RUN_COLUMNS)
    assert sorted(header[len(RUN_COLUMNS) :]) == ["load_ms", "token_count_source", "tps", "ttft_ms"]
    assert len(rows) == sum(len(its) for its in ITERATIONS.values())

    seen = [(row["run_id"], row["warmup"], int(row["iteration"])) for row in rows]
    assert seen == [("run-b", "False", 1), ("run-a", "True", 1), ("run-a", "False", 1), ("run-a", "False", 2)]

    for row, (warmup, index, _prompt, _output, metrics) in zip(
        rows, ITERATIONS["run-b"] + ITERATIONS["run-a"], strict=True
    ):
        assert row["iteration"] == str(index)
        assert row["warmup"] == str(warmup)
        for name in ("ttft_ms", "tps", "load_ms"):
            value = metrics.get(name)
            assert (float(row[name]) if row[name] else None) == value
    assert rows[1]["token_count_source"] == "server"
    assert rows[0]["token_count_source"] == ""


def test_csv_run_columns_describe_the_run(store: Store) -> None:
    out = io.StringIO()

    write_csv(store, out)

    out.seek(0)
    row = next(r for r in csv.DictReader(out) if r["run_id"] == "run-b")
    assert (row["modality"], row["backend"], row["model"], row["status"]) == ("text", "ollama", "qwen2.5:7b", "failed")
    assert datetime.fromisoformat(row["created_at"]) == T0 + timedelta(minutes=1)


def test_csv_export_of_an_empty_history_is_just_the_header(tmp_path: Path) -> None:
    out = io.StringIO()

    write_csv(Store(f"sqlite:///{tmp_path}/empty.db"), out)

    assert out.getvalue() == ",".join(RUN_COLUMNS) + "\n"
