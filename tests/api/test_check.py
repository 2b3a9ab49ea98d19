"""``POST /api/check``: a stored run against its baseline, with ``llamaburn check``'s verdicts."""

from __future__ import annotations

import platform
from datetime import UTC, datetime, timedelta

import httpx

from llamaburn.service.runs import RunService
from llamaburn.storage.baselines import Baselines
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add(store: Store, run_id: str, tps: list[float], minutes: int = 0) -> RunRecord:
    run = RunRecord(id=run_id, created_at=T0 + timedelta(minutes=minutes), modality="text", backend="ollama",
                    model="m", host=platform.node(), status="completed", summary={"tps": {"mean": sum(tps) / len(tps)}})
    store.create_run(run)
    for index, value in enumerate(tps, 1):
        store.add_iteration(IterationRecord(run_id=run_id, index=index, metrics={"tps": value, "ttft_ms": 10.0}))
    return run


async def test_check_answers_every_verdict_as_200(client: httpx.AsyncClient, service: RunService) -> None:
    Baselines(service.store).set(add(service.store, "base-run", [100.0, 101.0, 99.0, 100.5]), "nightly")
    add(service.store, "slow-run", [80.0, 81.0, 79.0, 80.5], 1)
    add(service.store, "noisy-run", [60.0, 140.0, 70.0, 110.0], 2)
    slow = await client.post("/api/check", json={"run_id": "slow-run", "max_regression": "tps=5%,ttft_ms=10%"})
    assert slow.status_code == 200
    result = slow.json()
    assert (result["outcome"], result["baseline_run_id"]) == ("regression", "base-run")
    assert result["baseline_tag"] == "nightly"
    assert [m["verdict"] for m in result["metrics"]] == ["regression", "pass"]
    noisy = (await client.post("/api/check", json={"run_id": "noisy", "tag": "nightly"})).json()
    assert noisy["outcome"] == "pass" and noisy["metrics"][0]["verdict"] == "within noise"
    assert any("run at least" in warning for warning in noisy["warnings"])


async def test_check_refuses_what_it_cannot_check(client: httpx.AsyncClient, service: RunService) -> None:
    add(service.store, "lonely-run", [100.0, 101.0])
    missing = await client.post("/api/check", json={"run_id": "lonely-run"})
    assert missing.status_code == 404 and "llamaburn baseline set lonely-r" in missing.json()["detail"]
    assert (await client.post("/api/check", json={"run_id": "nothing-here"})).status_code == 404
    bad = await client.post("/api/check", json={"run_id": "lonely-run", "max_regression": "speed=5%"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "max_regression"]
