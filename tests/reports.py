"""Two stored text runs with known configs, snapshots, model info and iterations: what the report tests check
every format against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llamaburn.engine.metrics import summarize
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store

T0 = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
FAST = "aaaa1111-0000-4000-8000-000000000001"
SLOW = "bbbb2222-0000-4000-8000-000000000002"
ITERATIONS = {
    FAST: [{"tps": 100.0, "ttft_ms": 50.0}, {"tps": 110.0, "ttft_ms": 40.0}, {"tps": 120.0, "ttft_ms": 30.0}],
    SLOW: [{"tps": 50.0, "ttft_ms": 80.0}, {"tps": 60.0, "ttft_ms": 90.0}],
}


def store_runs(store: Store) -> list[str]:
    """Store FAST (llama3.2:1b, Q4_K_M, on host-a) and SLOW (qwen3:4b, on host-b), a warmup each; their ids."""
    for minutes, (run_id, model, host) in enumerate(
        [(FAST, "llama3.2:1b", "host-a"), (SLOW, "qwen3:4b", "host-b")]
    ):
        measured = ITERATIONS[run_id]
        store.create_run(
            RunRecord(
                id=run_id,
                created_at=T0 + timedelta(minutes=minutes),
                modality="text",
                backend="ollama",
                model=model,
                host=host,
                status="running",
                config={"iterations": len(measured), "warmup": 1, "inputs": {"prompt": "Say <hi> | twice"}},
                system={"hostname": host, "cpu": {"cores": 2}, "os": "Linux"},
                model_info={"parameter_size": "1.2B", "quantization": "Q4_K_M"} if run_id == FAST else {},
            )
        )
        store.add_iteration(IterationRecord(run_id=run_id, index=0, warmup=True, metrics={"tps": 1.0}))
        for index, metrics in enumerate(measured):
            store.add_iteration(IterationRecord(run_id=run_id, index=index, metrics=metrics))
        store.finish_run(run_id, "completed", summarize(measured), None)
    return [FAST, SLOW]
