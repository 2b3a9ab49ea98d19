"""The steps every face (CLI, UI, API) takes to start a run, in the order that keeps bad input harmless:
validate everything the user typed first, then reach the backend, then measure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llamaburn.backends.base import Backend
from llamaburn.engine.modality import Inputs, Modality, Target, check_capabilities, check_model_capabilities
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.engine.telemetry import SharedSampler, listening_pid
from llamaburn.errors import ConfigError, LlamaBurnError, ModelNotFoundError
from llamaburn.modelinfo.service import ModelInfoService
from llamaburn.service.request import RunRequest
from llamaburn.service.server_lock import ServerLock
from llamaburn.service.system import snapshot
from llamaburn.storage.recorder import Recorder
from llamaburn.storage.store import Store


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
    *,
    as_json: bool = False,
    local_files: bool = False,
) -> Plan:
    """Check the request without touching the network or the store: raises ``ConfigError`` on bad input.
    ``as_json``: the inputs came as JSON (the API), so they are validated as JSON, strictly; ``local_files``:
    a file field may name a local file (the CLI)."""
    chosen = registry.runnable(modality)
    if backend is not None:
        registry.backend(backend)
    if model is not None and not model.strip():
        raise ConfigError("model: must not be empty")
    return Plan(chosen, chosen.parse_inputs(inputs, as_json=as_json, local_files=local_files), backend, url, model)


class BackendPool:
    """The one way to open a backend: one open backend per server, reused across runs.

    The service keeps a pool for its whole life, so every run reuses the same keep-alive connection (and
    the embedded server starts once); the CLI opens a pool for one command and closes it.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._open: dict[tuple[str, str | None, str | None, float | None], Backend] = {}

    async def get(
        self, name: str | None, url: str | None = None, api_key: str | None = None, read_timeout: float | None = None
    ) -> Backend:
        """The open backend for this server, created and started on first use; ``name`` None probes."""
        name = name or await self.registry.default_backend()
        key = (name, url or None, api_key or None, read_timeout)
        if key not in self._open:
            backend = self.registry.backend(name)(url or None, api_key=api_key or None, read_timeout=read_timeout)
            try:
                await backend.start()
            except BaseException:
                await backend.aclose()
                raise
            self._open[key] = backend
        return self._open[key]

    def add(self, backend: Backend) -> None:
        """Hold a backend the caller built and started (the test harness and the benchmarks do), so
        ``prepare_run`` reuses it, connections included; the pool then owns it."""
        self._open[(backend.name, backend.url, backend.api_key, backend.read_timeout)] = backend

    async def aclose(self) -> None:
        for backend in self._open.values():
            await backend.aclose()
        self._open.clear()


async def server_version(backend: Backend) -> str | None:
    """The server's version as it reports it; ``None`` when it does not say or cannot be asked."""
    try:
        return await backend.version()
    except LlamaBurnError:
        return None


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


@dataclass(frozen=True, slots=True)
class KnownServer:
    """What a caller has already asked a server and may hand ``prepare_run``: a sweep asks once per server
    and model, not once per stream and cell (two requests a run, half of a 100-cell sweep's own time)."""

    model: str
    version: str | None


@dataclass(slots=True)
class PreparedRun:
    """A run ready to execute: validated, its backend open, its model resolved and described.

    Nothing is stored yet and no lock is held: the face takes ``lock()`` when the run's turn comes, then
    ``record(store)`` puts it in history.
    """

    run: Run
    config: dict[str, Any]
    model_info: dict[str, Any]
    system: dict[str, Any] = field(default_factory=dict)
    known: KnownServer | None = None

    def lock(self) -> ServerLock:
        """The lock that keeps other llamaburn processes off this server while the run measures it."""
        backend = self.run.target.backend
        return ServerLock(backend.label, backend.url, self.run.id)

    async def record(self, store: Store | None) -> Recorder | None:
        """Snapshot the system (with the server's version, if it tells) and record the run into ``store``."""
        backend = self.run.target.backend
        version = self.known.version if self.known is not None else await server_version(backend)
        self.system = snapshot(backend.name, backend.url, version)
        if store is None:
            return None
        return Recorder(store, self.run, backend.name, self.config, self.system, self.model_info)


async def prepare_run(
    request: RunRequest,
    registry: Registry,
    backends: BackendPool,
    model_infos: ModelInfoService | None = None,
    check: Callable[[Backend], None] | None = None,
    known: KnownServer | None = None,
) -> PreparedRun:
    """The one run assembly that every face, the test harness and the benchmarks call.

    Validation comes first, in a worker thread (a form's check may read a file for seconds, and the event loop
    may be timing another run), and touches neither the network nor the store: ``InputsError`` names each bad
    input, ``ConfigError`` an unknown modality or backend or an empty model, ``ComingSoonError`` a modality
    that cannot run yet. Then the backend opens (from ``backends``), the model is resolved, checked (a
    ``CapabilityError`` for a model that cannot see, when a modality needs vision) and described (by
    ``model_infos``; without one the run has no model info), and the run gets its machine telemetry
    (``engine/telemetry.py``), sampled while it executes. ``check`` is called with the open backend
    before the model is resolved and again once the run exists, so the service can refuse a busy server.
    ``known`` is the model already resolved on this server and its version (``KnownServer``): not asked again.
    """
    # In a worker thread: a form's check may read its file (a 3D model through trimesh, seconds for a large
    # one), and this event loop may be timing another run's stream meanwhile.
    checked = await asyncio.to_thread(
        plan, registry, request.modality, request.inputs, request.backend, request.url, request.model,
        as_json=request.inputs_are_json, local_files=request.local_files,
    )
    if checked.backend is not None:
        check_capabilities(checked.modality, registry.backend(checked.backend))
    backend = await backends.get(checked.backend, checked.url, request.api_key, request.read_timeout)
    check_capabilities(checked.modality, type(backend))  # the default backend, now that it is chosen
    pid = backend.server_pid()
    if pid is None:
        # The port scan for a local server reads every process's sockets, holding the GIL for 25 ms and more
        # (hundreds beside a browser and a database). Done here, before the clock and before the busy check
        # (no await may come between that check and the run's registration), and remembered, so the
        # sampler's own lookup during the measurement finds it at once.
        pid = await asyncio.to_thread(listening_pid, backend.url)
    if check is not None:
        check(backend)
    model = known.model if known is not None else await resolve_model(backend, checked.model)
    await check_model_capabilities(checked.modality, Target(backend, model))
    await checked.modality.preflight(checked.inputs, Target(backend, model))
    info = (await model_infos.get(backend, model)).model_dump(mode="json") if model_infos else {}
    run = Run(checked.modality, checked.inputs, Target(backend, model))
    run.telemetry = SharedSampler(pid=pid, url=backend.url)
    if check is not None:
        check(backend)
    return PreparedRun(run, run_config(checked, backend, model), info, known=known)
