"""5. History at scale: the store's everyday operations on a database of 10,000 runs x 10 iterations, on
SQLite (a file, the default) and on PostgreSQL (a team's shared history).

The database is made by ``Store`` (so its schema and pragmas are the real ones) and filled with bulk
inserts of realistic rows: a full summary per run, and a prompt, a ~256-token answer and a full metric
set per iteration. Each operation is then timed on a long-lived ``Store`` (as the UI and API hold it)
and, for listing, on a fresh one too (as a CLI command opens it). PostgreSQL is a throwaway local cluster
(``tests/postgres.py``) with its durable defaults (``fsync`` and ``synchronous_commit`` on), reached over
TCP on loopback; SQLite runs as LlamaBurn sets it up (WAL, ``synchronous=NORMAL``).
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from benchmarks.common import Row, Stat
from llamaburn.engine.metrics import summarize
from llamaburn.engine.registry import load_registry
from llamaburn.service.compare import compare, metric_set
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store

SECTION = "5. History"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PROMPT = "Explain the concept of recursion in programming, with a short example."
BAR_MS = {"list": 50.0, "compare": 50.0, "store": 5.0}
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _metrics(rng: random.Random) -> dict[str, Any]:
    tps = rng.uniform(20, 120)
    return {
        "ttft_ms": rng.uniform(40, 400), "tps": tps, "itl_ms_mean": 1000 / tps, "itl_ms_p50": 1000 / tps,
        "itl_ms_p95": 1200 / tps, "itl_ms_p99": 1500 / tps, "total_ms": 256 / tps * 1000, "output_tokens": 256,
        "token_count_source": "server", "chunks": 256, "server_tps": tps * 1.02, "prompt_tokens": 18,
        "prompt_tps": rng.uniform(200, 900), "load_ms": None,
    }


def _system() -> dict[str, Any]:
    return {"os": "Linux 6.1", "machine": "x86_64", "python": "3.11.7", "cpu": "AMD EPYC", "cpu_cores": 2,
            "ram_bytes": 25_000_000_000, "gpus": [], "backend": "ollama", "backend_url": "http://127.0.0.1:11434",
            "backend_version": "0.12.3", "llamaburn_version": "0.1.0"}


def populate(store: Store, runs: int, iterations: int, batch: int = 500) -> list[str]:
    """Fill ``store`` with ``runs`` completed runs of ``iterations`` iterations (+1 warmup); returns run ids."""
    rng, ids = random.Random(6), []
    answer = ("recursion " * 256).strip()
    models = [f"model-{i}:7b" for i in range(20)]
    with store.engine.begin() as connection:
        for first in range(0, runs, batch):
            run_rows, iteration_rows = [], []
            for number in range(first, min(first + batch, runs)):
                run_id = str(uuid.UUID(int=rng.getrandbits(128)))
                ids.append(run_id)
                measured = [_metrics(rng) for _ in range(iterations)]
                run_rows.append({
                    "id": run_id, "created_at": T0 + timedelta(minutes=number), "modality": "text",
                    "backend": "ollama", "model": models[number % len(models)], "status": "completed", "error": None,
                    "config": {"modality": "text", "inputs": {"iterations": iterations, "warmup": 1,
                                                              "prompts": [PROMPT], "max_tokens": 256}},
                    "summary": summarize(measured), "system": _system(),
                })
                for index, metrics in enumerate([_metrics(rng), *measured]):
                    iteration_rows.append({"run_id": run_id, "index": max(index, 1), "warmup": index == 0,
                                           "prompt": PROMPT, "output": answer, "metrics": metrics})
            connection.execute(insert(RunRecord.__table__), run_rows)  # type: ignore[attr-defined]
            connection.execute(insert(IterationRecord.__table__), iteration_rows)  # type: ignore[attr-defined]
    return ids


def timed_ms(operation: Callable[[], object], repeats: int) -> Stat:
    operation()  # warm: the first call pays for connecting and the statement caches
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1000)
    return Stat.of(samples)


def cold_ms(url: str, repeats: int) -> Stat:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        Store(url).list_runs(limit=50)
        samples.append((time.perf_counter() - started) * 1000)
    return Stat.of(samples)


def size_mib(store: Store) -> float:
    """The database's size on disk: SQLite's file with its WAL, or PostgreSQL's whole database."""
    if store.url.startswith("sqlite"):
        path = Path(store.url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    with store.engine.connect() as connection:
        return float(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 2**20


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgresql"), and its URL; removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="llamaburn-history-") as directory:
            yield f"sqlite:///{Path(directory) / 'history.db'}"
        return
    from tests import postgres  # the tests' throwaway cluster: Debian's postgresql package

    if not postgres.available():
        raise RuntimeError(postgres.skip_reason())
    with postgres.stoppable_cluster(durable=True) as cluster:
        yield postgres.fresh_database(cluster.url)


def measure(runs: int, iterations: int, repeats: int, kind: str = "sqlite") -> tuple[dict[str, Stat], float, float]:
    """Timings (ms) of each operation, the database size (MiB) and the seconds it took to fill."""
    with database(kind) as url:
        return _measure(url, runs, iterations, repeats)


def _settle(store: Store) -> None:
    """After the bulk load, what the database does on its own in time: SQLite checkpoints its WAL into the
    file, PostgreSQL's autovacuum analyzes the new tables (without statistics its planner guesses)."""
    with store.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            connection.exec_driver_sql("ANALYZE")


def _measure(url: str, runs: int, iterations: int, repeats: int) -> tuple[dict[str, Stat], float, float]:
    store = Store(url)
    started = time.perf_counter()
    ids = populate(store, runs, iterations)
    _settle(store)
    fill_s = time.perf_counter() - started
    rng = random.Random(10)
    picked = rng.sample(ids, 10)
    counter = iter(range(10**9))

    modalities = load_registry().modalities

    def compare_ids(run_ids: list[str]) -> None:
        """As the API and the CLI compare: fetch each run, then by its modality's metric set."""
        found = store.get_runs(run_ids)
        compare(found, metric_set(modalities, found))

    def add_iteration() -> None:
        store.add_iteration(IterationRecord(run_id=picked[0], index=100 + next(counter), prompt=PROMPT,
                                            output=("recursion " * 256).strip(), metrics=_metrics(rng)))

    timings = {
        "list page of 50 (CLI / API default)": timed_ms(lambda: store.list_runs(limit=50), repeats),
        "list page of 200 (UI history panel)": timed_ms(lambda: store.list_runs(limit=200), repeats),
        "list page of 50 + count (API /history)": timed_ms(lambda: (store.list_runs(limit=50), store.count_runs()),
                                                           repeats),
        "list last page of 50 (offset runs - 50)": timed_ms(lambda: store.list_runs(limit=50, offset=runs - 50),
                                                            repeats),
        "list page of 50, fresh Store (CLI)": cold_ms(url, max(5, repeats // 4)),
        "compare 10 runs by full id": timed_ms(lambda: compare_ids(picked), repeats),
        "compare 10 runs by 8-char prefix (CLI)": timed_ms(lambda: compare_ids([i[:8] for i in picked]), repeats),
        "store one iteration (commit)": timed_ms(add_iteration, repeats),
    }
    size = size_mib(store)
    store.engine.dispose()
    return timings, size, fill_s


def rows(
    runs: int, iterations: int, timings: dict[str, Stat], size: float, fill_s: float, kind: str = "sqlite"
) -> list[Row]:
    scale = f"{DATABASES[kind]}, {runs:,} runs x {iterations} iterations"
    result = []
    for name, stat in timings.items():
        kind = "store" if name.startswith("store") else "compare" if name.startswith("compare") else "list"
        gated = "last page" not in name and "fresh" not in name
        bar = f"< {BAR_MS[kind]:g} ms" if gated else ""
        result.append(Row(SECTION, f"{scale}: {name}", stat, "ms", bar, stat.median < BAR_MS[kind] if gated else None))
    result.append(Row(SECTION, f"{scale}: database size", size, "MiB"))
    result.append(Row(SECTION, f"{scale}: time to bulk-load (not a bar)", fill_s, "s"))
    return result


def run(quick: bool) -> list[Row]:
    runs, iterations, repeats = (2_000, 10, 20) if quick else (10_000, 10, 60)
    result = []
    for kind in DATABASES:
        timings, size, fill_s = measure(runs, iterations, repeats, kind)
        result += rows(runs, iterations, timings, size, fill_s, kind)
    return result
