"""Errors a client can act on: 422 naming the field, 502 for an unreachable backend, 503 for none at
all, 404 for unknown runs; and the default backend when none is named."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llamaburn.testing import FakeServer
from tests.api.bodies import run_body
from tests.harness.api import follow, start, stored, types

# Errors


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        ({"iterations": 0}, ["body", "iterations"], "greater than or equal to 1"),
        ({"iterations": "many"}, ["body", "iterations"], "valid integer"),
        ({"warmup": -1}, ["body", "warmup"], "greater than or equal to 0"),
        ({"temperature": 2.5}, ["body", "temperature"], "less than or equal to 2"),
        ({"max_tokens": 0}, ["body", "max_tokens"], "greater than or equal to 1"),
        ({"prompt": "  "}, ["body", "prompt"], "a prompt is empty"),
        ({"prompt": None, "prompts": ["ok", ""]}, ["body", "prompts", 1], "a prompt is empty"),
        ({"prompt": None, "prompts": []}, ["body", "prompts"], "at least 1 item"),
        ({"prompts": ["a"]}, ["body", "prompt"], "prompt or prompts, not both"),
        ({"type": "poetry"}, ["body", "type"], "unknown modality 'poetry'; choose from: text, image"),
        ({"api_key": "clé"}, ["body", "api_key"], "must be visible ASCII characters"),  # found by schemathesis
        ({"type": "image"}, ["body", "image_path"], "Field required"),
        ({"backend": "vllm"}, ["body", "backend"], "unknown backend 'vllm'; choose from: ollama, openai"),
        ({"model_id": " "}, ["body", "model_id"], "must not be empty"),
        ({"image_path": "x.png"}, ["body", "image_path"], "Extra inputs are not permitted"),
        ({"url": "http://[::1"}, ["body", "url"], "not a usable server URL"),
        ({"url": "ftp://host"}, ["body", "url"], "not a usable server URL"),
        ({"url": "http://" + "a" * 70 + ".test"}, ["body", "url"], "not a usable server URL"),
        ({"backend": "embedded", "url": "http://127.0.0.1:1"}, ["body", "url"], "starts its own server"),
        ({"model_id": "gpt-9"}, ["body", "model_id"], "model 'gpt-9' not found on Ollama"),
    ],
)
async def test_invalid_bodies_get_422_naming_the_field(
    client: httpx.AsyncClient, fake: FakeServer, fields: dict[str, Any], loc: list[Any], message: str
) -> None:
    response = await client.post("/api/benchmark", json=run_body(fake, **fields))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert message in error["msg"]
    assert not [r for r in fake.requests if r.path == "/api/chat"]


async def test_bodies_that_are_not_objects_get_422(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]", b'{"iterations": NaN}', b'{"temperature": Infinity}'):
        response = await client.post("/api/benchmark", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 422, (content, response.text)


async def test_an_unreachable_backend_is_502_and_no_backend_at_all_is_503(client: httpx.AsyncClient) -> None:
    down = "http://127.0.0.1:9"
    response = await client.post("/api/benchmark", json={"backend": "ollama", "url": down, "prompt": "hi"})
    assert response.status_code == 502
    assert "Ollama at http://127.0.0.1:9 is not reachable" in response.json()["detail"]
    assert (await client.get("/api/models", params={"backend": "openai", "url": down})).status_code == 502
    response = await client.post("/api/benchmark", json={"prompt": "hi"})
    assert response.status_code == 503 and "no backend found" in response.json()["detail"]


async def test_default_backend_is_ollama_when_it_answers(
    client: httpx.AsyncClient, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    run_id = await start(client, {"prompt": "hi", "iterations": 1, "warmup": 0})
    assert types(await follow(client, run_id))[-1] == "complete"
    assert (await stored(client, run_id))["backend"] == "ollama"


async def test_unknown_runs_are_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/benchmark/nope/stream"),
        ("POST", "/api/benchmark/nope/cancel"),
        ("GET", "/api/history/nope"),
        ("DELETE", "/api/history/nope"),
        ("GET", "/api/compare?ids=nope,nada"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "nope" in response.json()["detail"]
