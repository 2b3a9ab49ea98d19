"""The body of ``POST /api/benchmark`` that most API tests start from, against the fake server."""

from __future__ import annotations

from typing import Any

from llamaburn.testing import DEFAULT_MODEL, FakeServer

ANSWER = ["Hello", ",", " world", "!"]  # what the fake server streams for each request


def run_body(fake: FakeServer, **fields: Any) -> dict[str, Any]:
    body = {
        "backend": "ollama",
        "url": fake.url,
        "model_id": DEFAULT_MODEL,
        "prompt": "Say hello",
        "iterations": 2,
        "warmup": 1,
        "temperature": 0.0,
        "max_tokens": 64,
    }
    body.update(fields)
    return body
