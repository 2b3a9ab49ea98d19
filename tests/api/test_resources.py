"""History (paged, one run, delete, clear), the comparison, models and model info, plugins, and the
OpenAPI document of every endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from llamaburn.service.runs import RunService
from llamaburn.storage.records import IterationRecord, RunRecord
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# History, compare, models, plugins


def add_runs(store: Store, count: int) -> list[str]:
    ids = []
    for minute in range(count):
        run_id = f"run-{minute:02d}-{'abcdefgh'[minute % 8]}"
        summary = {"tps": {"mean": 10.0 * (minute + 1), "min": 9.0, "max": 11.0}, "ttft_ms": {"mean": 100.0 - minute}}
        store.create_run(
            RunRecord(
                id=run_id,
                created_at=T0 + timedelta(minutes=minute),
                modality="text",
                backend="ollama",
                model=DEFAULT_MODEL,
                status="completed",
                summary=summary,
                config={"inputs": {"iterations": 1}},
            )
        )
        store.add_iteration(IterationRecord(run_id=run_id, index=1, prompt="p", output="o", metrics={"tps": 10.0}))
        ids.append(run_id)
    return ids


async def test_history_pages_newest_first_with_the_total(client: httpx.AsyncClient, service: RunService) -> None:
    ids = add_runs(service.store, 5)
    page = (await client.get("/api/history", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 1)
    assert [run["id"] for run in page["runs"]] == [ids[3], ids[2]]
    assert page["runs"][0]["summary"]["tps"]["mean"] == 40.0
    everything = (await client.get("/api/history")).json()
    assert [run["id"] for run in everything["runs"]] == ids[::-1]
    assert (await client.get("/api/history", params={"offset": 5})).json()["runs"] == []
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        response = await client.get("/api/history", params=bad)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", *bad]


async def test_history_gets_and_deletes_one_run_and_clears(
    client: httpx.AsyncClient, service: RunService
) -> None:
    ids = add_runs(service.store, 3)
    run = (await client.get(f"/api/history/{ids[0]}")).json()
    assert run["id"] == ids[0] and run["status"] == "completed"
    assert run["iterations"] == [{"index": 1, "warmup": False, "prompt": "p", "output": "o", "metrics": {"tps": 10.0}}]
    assert (await client.get(f"/api/history/{ids[1][:7]}")).json()["id"] == ids[1]  # a unique prefix

    assert (await client.delete(f"/api/history/{ids[0]}")).status_code == 204
    assert (await client.get(f"/api/history/{ids[0]}")).status_code == 404
    assert (await client.get("/api/history")).json()["total"] == 2
    assert (await client.delete("/api/history")).json() == {"deleted": 2}
    assert (await client.get("/api/history")).json() == {"total": 0, "limit": 50, "offset": 0, "runs": []}


async def test_compare_returns_the_engine_comparison(client: httpx.AsyncClient, service: RunService) -> None:
    ids = add_runs(service.store, 3)
    response = await client.get("/api/compare", params={"ids": f"{ids[0]}, {ids[2]}"})
    assert response.status_code == 200
    table = response.json()
    assert [run["id"] for run in table["runs"]] == [ids[0], ids[2]]
    tps = next(row for row in table["rows"] if row["key"] == "avg_tps")
    assert tps["values"] == [10.0, 30.0] and tps["winner"] == 1 and tps["diff_pct"] == [None, 200.0]
    one = await client.get("/api/compare", params={"ids": ids[0]})
    assert one.status_code == 422 and one.json()["detail"][0]["loc"] == ["query", "ids"]
    assert (await client.get("/api/compare")).status_code == 422


async def test_models_and_model_info(client: httpx.AsyncClient) -> None:
    with FakeServer(models=[DEFAULT_MODEL, "hf.co/org/model:Q4_K_M"]) as server:
        listed = (await client.get("/api/models", params={"backend": "ollama", "url": server.url})).json()
        assert listed["backend"] == "ollama" and listed["url"] == server.url
        assert [m["id"] for m in listed["models"]] == [DEFAULT_MODEL, "hf.co/org/model:Q4_K_M"]
        assert listed["models"][0]["details"]["quantization_level"] == "Q4_K_M"

        path = "/api/models/hf.co/org/model:Q4_K_M/info"
        described = await client.get(path, params={"backend": "ollama", "url": server.url})
        assert described.status_code == 200, described.text
        assert described.json()["model"] == "hf.co/org/model:Q4_K_M"
        info = described.json()["info"]
        assert (info["context_length"], info["quantization"], info["family"]) == (131072, "Q4_K_M", "llama")
        assert info["sources"]["context_length"] == "ollama"
        shows = len([r for r in server.requests if r.path == "/api/show"])
        await client.get(path, params={"backend": "ollama", "url": server.url})
        assert len([r for r in server.requests if r.path == "/api/show"]) == shows  # cached

        missing = await client.get("/api/models/nope/info", params={"backend": "ollama", "url": server.url})
        assert missing.status_code == 404 and "'nope' not found" in missing.json()["detail"]
        openai = {"backend": "openai", "url": server.url}
        assert (await client.get(f"/api/models/{DEFAULT_MODEL}/info", params=openai)).json()["info"][
            "model_id"
        ] == DEFAULT_MODEL
        assert (await client.get("/api/models/nope/info", params=openai)).status_code == 404
        bad = await client.get("/api/models", params={"backend": "nope"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "backend"]
        bad = await client.get("/api/models", params={"backend": "ollama", "url": "http://[::1"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "url"]


async def test_plugins_lists_modalities_and_backends(client: httpx.AsyncClient) -> None:
    plugins = (await client.get("/api/plugins")).json()
    rows = {(p["kind"], p["name"]): p for p in plugins}
    assert rows[("modality", "text")]["available"] is True
    assert rows[("modality", "audio")]["available"] is True
    assert rows[("modality", "video")]["available"] is True
    assert {("backend", "ollama"), ("backend", "openai"), ("backend", "embedded")} <= set(rows)


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {
        "/api/benchmark",
        "/api/benchmark/stream",
        "/api/benchmark/{run_id}/stream",
        "/api/benchmark/{run_id}/cancel",
        "/api/history",
        "/api/history/{run_id}",
        "/api/hosts",
        "/api/compare",
        "/api/check",
        "/api/report",
        "/api/models",
        "/api/models/{model_id}/info",
        "/api/plugins",
        "/api/uploads",
        "/api/sweep",
        "/api/sweep/{sweep_id}/stream",
        "/api/sweep/{sweep_id}/cancel",
        "/api/sweep/{sweep_id}/resume",
        "/api/sweeps",
    }
    assert "409" in schema["paths"]["/api/benchmark"]["post"]["responses"]
    assert (
        "text/event-stream" in schema["paths"]["/api/benchmark/{run_id}/stream"]["get"]["responses"]["200"]["content"]
    )
