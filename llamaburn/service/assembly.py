"""The steps every face (CLI, UI, API) takes to start a run, in the order that keeps bad input harmless:
validate everything the user typed first, then reach the backend, then measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llamaburn.backends.base import Backend
from llamaburn.backends.embedded import INSTALL_HINT, embedded_installed
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.modality import Inputs, Modality
from llamaburn.engine.registry import Registry
from llamaburn.errors import BackendError, ComingSoonError, ConfigError, ModelNotFoundError

PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated request: the modality and its inputs, and where to run them."""

    modality: Modality
    inputs: Inputs
    backend: str | None
    url: str | None
    model: str | None


def plan(
    registry: Registry,
    modality: str,
    inputs: dict[str, Any],
    backend: str | None = None,
    url: str | None = None,
    model: str | None = None,
) -> Plan:
    """Check the request without touching the network or the store: raises ``ConfigError`` on bad input."""
    chosen = registry.modality(modality)
    if not chosen.available:
        raise ComingSoonError(
            f"{chosen.label} benchmarks are coming soon: only "
            f"{', '.join(n for n, m in registry.modalities.items() if m.available)} can run"
        )
    if backend is not None:
        registry.backend(backend)
    if model is not None and not model.strip():
        raise ConfigError("model: must not be empty")
    return Plan(chosen, chosen.parse_inputs(inputs), backend, url, model)


async def default_backend() -> str:
    """Ollama if it answers, else the embedded server if it is installed."""
    probe = OllamaBackend(read_timeout=PROBE_TIMEOUT_S)
    try:
        await probe.version()
        return "ollama"
    except BackendError:
        pass
    finally:
        await probe.aclose()
    if embedded_installed():
        return "embedded"
    raise ConfigError(
        f"no backend found: start Ollama (`ollama serve`) at {probe.url}, point --backend "
        f"openai --url at a server, or use the embedded backend ({INSTALL_HINT})"
    )


async def open_backend(
    registry: Registry,
    name: str | None,
    url: str | None = None,
    api_key: str | None = None,
    read_timeout: float | None = None,
) -> Backend:
    """Construct and start a backend; the caller owns it and must ``aclose()`` it."""
    backend = registry.backend(name or await default_backend())(url, api_key=api_key, read_timeout=read_timeout)
    try:
        await backend.start()
    except BaseException:
        await backend.aclose()
        raise
    return backend


async def resolve_model(backend: Backend, model: str | None) -> str:
    """The model to measure: the one asked for, if the backend has it, else the backend's first model.

    Ollama's ``name`` means ``name:latest``, so that spelling is accepted too.
    """
    available = [entry.id for entry in await backend.models()]
    if model is None:
        if not available:
            raise ModelNotFoundError(
                f"{backend.label} at {backend.url} has no models; pull one first (for Ollama: `ollama pull gemma3`)"
            )
        return available[0]
    for candidate in (model, f"{model}:latest"):
        if candidate in available:
            return candidate
    listed = ", ".join(available[:10]) or "none"
    raise ModelNotFoundError(f"model {model!r} not found on {backend.label} at {backend.url}; available: {listed}")


def run_config(plan: Plan, backend: Backend, model: str) -> dict[str, Any]:
    """What a run stores about how it was asked for. An API key is stored masked, never in clear."""
    return {
        "modality": plan.modality.name,
        "backend": backend.name,
        "url": backend.url,
        "model": model,
        "inputs": plan.inputs.model_dump(mode="json"),
        "read_timeout_s": backend.read_timeout,
        "api_key": "***" if backend.api_key else None,
    }
