"""Code through the REST API's generic path: POST /api/benchmark with a language, then the run's record."""

from __future__ import annotations

import httpx

from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.api import follow, start


async def test_api_runs_code_in_rust(client: httpx.AsyncClient) -> None:
    with FakeServer(Script(tokens=["```rust\n", "fn main() {\n", "}\n", "```"])) as fake:
        body = {"type": "code", "backend": "ollama", "url": fake.url, "model_id": DEFAULT_MODEL,
                "language": "rust", "iterations": 2, "warmup": 0}
        run_id = await start(client, body)
        events = await follow(client, run_id)
    assert events[-1][0] == "complete", events[-1]
    record = (await client.get(f"/api/history/{run_id}")).json()
    metrics = [iteration["metrics"] for iteration in record["iterations"]]
    assert [m["syntax_valid"] for m in metrics] == [100, 100]
    assert metrics[0]["code"] == "fn main() {\n}\n" and metrics[0]["extraction"] == "tagged"
    assert events[-1][1]["summary"]["syntax_valid"]["mean"] == 100  # the record is summarised just after


async def test_api_refuses_an_unknown_language(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/benchmark", json={"type": "code", "backend": "ollama",
                                                          "url": "http://127.0.0.1:9", "language": "cobol"})
    assert response.status_code == 422 and "language" in response.text
