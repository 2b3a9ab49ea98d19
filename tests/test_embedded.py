"""The real embedded backend: llama-cpp-python's server with Gemma 3 270M, started by LlamaBurn itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llamaburn.backends.embedded import MODEL_ALIAS, EmbeddedBackend, embedded_installed
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.errors import ConfigError
from llamaburn_text import DEFAULT_PROMPT

pytestmark = pytest.mark.embedded


def test_embedded_extra_is_installed() -> None:
    assert embedded_installed(), "CI installs llamaburn[embedded]; this test suite needs the real model"


def test_bench_embedded_prints_real_measurements() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    result = subprocess.run(
        [sys.executable, "-m", "llamaburn", "bench", "--backend", "embedded", "--iterations", "3",
         "--max-tokens", "48", "--json", "--quiet"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["model"] == MODEL_ALIAS
    assert len(data["iterations"]) == 3
    for metrics in data["iterations"]:
        assert metrics["output_tokens"] == 48  # the base model answers up to max tokens
        assert metrics["token_count_source"] == "chunks"  # llama-cpp-python sends no usage while streaming
        assert 0 < metrics["ttft_ms"] < metrics["total_ms"]
        assert metrics["tps"] > 1
    assert data["system"]["backend_version"].startswith("llama-cpp-python ")
    assert data["summary"]["tps"]["min"] <= data["summary"]["tps"]["p50"] <= data["summary"]["tps"]["max"]


async def test_server_streams_text_and_stops_on_close() -> None:
    modality = load_registry().modality("text")
    backend = EmbeddedBackend()
    await backend.start()
    process = backend._process
    assert process is not None
    try:
        assert [m.id for m in await backend.models()] == [MODEL_ALIAS]
        inputs = modality.parse_inputs({"iterations": 1, "warmup": 0, "max_tokens": 16, "prompts": [DEFAULT_PROMPT]})
        run = Run(modality, inputs, Target(backend, MODEL_ALIAS))
        subscription = run.bus.subscribe()
        await run.execute()
        text = "".join(e.text for e in [event async for event in subscription] if e.type == "token")  # type: ignore[union-attr]
        assert run.status == "completed" and text.strip()
    finally:
        await backend.aclose()
    assert process.poll() is not None, "the embedded server must stop when the backend closes"


def test_embedded_refuses_a_url() -> None:
    with pytest.raises(ConfigError, match="starts its own server"):
        EmbeddedBackend("http://127.0.0.1:8080")
