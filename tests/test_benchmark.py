"""Choosing a backend and a model, before anything is measured."""

from __future__ import annotations

import pytest

from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.registry import load_registry
from llamaburn.errors import ComingSoonError, ConfigError, ModelNotFoundError
from llamaburn.service.assembly import plan, resolve_model, run_config
from llamaburn.testing import FakeServer
from tests.ui.app import SoonPlugin


async def test_model_resolution_accepts_latest_and_names_the_alternatives() -> None:
    with FakeServer(models=["gemma3:latest", "qwen3:4b"]) as server:
        backend = OllamaBackend(server.url)
        try:
            assert await resolve_model(backend, None) == "gemma3:latest"
            assert await resolve_model(backend, "gemma3") == "gemma3:latest"
            assert await resolve_model(backend, "qwen3:4b") == "qwen3:4b"
            with pytest.raises(ModelNotFoundError, match="available: gemma3:latest, qwen3:4b"):
                await resolve_model(backend, "llama3")
        finally:
            await backend.aclose()


async def test_backend_without_models_says_how_to_get_one() -> None:
    with FakeServer(models=[]) as server:
        backend = OllamaBackend(server.url)
        try:
            with pytest.raises(ModelNotFoundError, match="ollama pull"):
                await resolve_model(backend, None)
        finally:
            await backend.aclose()


def test_plan_validates_without_network() -> None:
    registry = load_registry()
    checked = plan(registry, "text", {"iterations": 2, "prompts": ["a"]}, backend="openai")
    assert checked.inputs.iterations == 2
    with pytest.raises(ComingSoonError, match=r"^Holo benchmarks are coming soon: only text, image, audio, video"):
        plan(load_registry(extra=[("soon", SoonPlugin())]), "holo", {})
    with pytest.raises(ConfigError, match="model: must not be empty"):
        plan(registry, "text", {}, model=" ")
    with pytest.raises(ConfigError, match="max_tokens"):
        plan(registry, "text", {"max_tokens": 0})
    with pytest.raises(ConfigError, match="Extra inputs are not permitted"):
        plan(registry, "text", {"image_path": "x.png"})


async def test_api_key_is_masked_in_the_stored_config() -> None:
    registry = load_registry()
    backend = registry.backend("openai")("http://127.0.0.1:8080/v1", api_key="sk-secret")
    try:
        config = run_config(plan(registry, "text", {}), backend, "m")
    finally:
        await backend.aclose()
    assert config["api_key"] == "***"
    assert "sk-secret" not in str(config)
    assert config["url"] == "http://127.0.0.1:8080"
