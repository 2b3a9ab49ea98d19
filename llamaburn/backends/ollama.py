"""Ollama's native API: ``/api/chat`` streams NDJSON, and its final chunk carries the server's timings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from llamaburn.backends.arrival import arrival, sent
from llamaburn.backends.base import (
    Backend,
    Breakdown,
    ChatRequest,
    Chunk,
    ModelEntry,
    ModelFacts,
    ServerTimings,
)
from llamaburn.backends.gguf import size_label
from llamaburn.backends.wire import json_body, one_line
from llamaburn.errors import BackendError, ConfigError

DEFAULT_PORT = 11434


def ollama_url(host: str | None = None) -> str:
    """The URL for an ``OLLAMA_HOST``-style value: ``host``, ``host:port`` or a full URL.

    As in Ollama's own client, a bare host gets port 11434 and a URL without a port its scheme's default
    (a reverse proxy). ``0.0.0.0`` (a listen address, common in ``OLLAMA_HOST``) is reached via loopback.
    """
    host = (host or os.environ.get("OLLAMA_HOST") or "").strip() or f"127.0.0.1:{DEFAULT_PORT}"
    default_port = DEFAULT_PORT
    if "://" not in host:
        host = f"http://{host}"
    else:
        default_port = 443 if host.startswith("https://") else 80
    try:
        parts = urlsplit(host)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a usable Ollama address {host!r}: {exc}") from None
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{parts.scheme}://{hostname}:{port or default_port}{parts.path.rstrip('/')}"


def show_facts(show: dict[str, Any], loaded: dict[str, Any] | None) -> dict[str, Any]:
    """The ``ModelInfo`` fields of ``/api/show`` (and of the model's ``/api/ps`` entry, when it is loaded)."""
    details = show.get("details") or {}
    model_info = show.get("model_info") or {}
    architecture = model_info.get("general.architecture")
    return {
        "parameter_size": details.get("parameter_size") or size_label(model_info.get("general.parameter_count")),
        "quantization": details.get("quantization_level"),
        "family": details.get("family") or architecture,
        "format": details.get("format"),
        "context_length": (loaded or {}).get("context_length") or model_info.get(f"{architecture}.context_length"),
        "capabilities": show.get("capabilities") or [],
        "vram_bytes": (loaded or {}).get("size_vram"),
        "chat_template": bool(show["template"]) if "template" in show else None,
    }


class OllamaBackend(Backend):
    name = "ollama"
    label = "Ollama"
    default_url = ""
    unreachable_hint = "start it with `ollama serve`, or pick another backend (--backend embedded)"
    url_placeholder = "http://127.0.0.1:11434 (or OLLAMA_HOST)"
    probe_order = 10
    capabilities = frozenset({"chat", "vision", "embeddings"})
    prompt_cache = True

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(ollama_url(url), **options)

    async def version(self) -> str | None:
        version = (await self.get_json("/api/version")).get("version")
        return version if isinstance(version, str) else None

    async def models(self) -> list[ModelEntry]:
        return [
            ModelEntry(id=entry["name"], size_bytes=entry.get("size"), details=entry.get("details") or {})
            for entry in await self._model_list("/api/tags", "a model list")
        ]

    async def _model_list(self, path: str, what: str) -> list[dict[str, Any]]:
        """The ``models`` of ``path`` (``/api/tags``, ``/api/ps``), each an object with a string ``name``."""
        entries = self.field(await self.get_json(path), "models", list, what)
        if entries is None:
            raise self.broken(f"{what} without its 'models' list")
        for entry in entries:
            if not isinstance(entry, dict):
                raise self.broken(f"{what} whose entry is not an object: {one_line(repr(entry), 80)}")
            if self.field(entry, "name", str, f"{what} entry") is None:
                raise self.broken(f"{what} entry without a name: {one_line(repr(entry), 80)}")
            self.field(entry, "size", int, f"{what} entry")
            self.field(entry, "details", dict, f"{what} entry")
        return entries

    async def show(self, model: str) -> dict[str, Any]:
        with self.errors():
            response = await self.client.post("/api/show", json={"model": model})
            self.raise_for_status(response, model)
            return self.decode(response.text)

    async def model_capabilities(self, model: str) -> frozenset[str] | None:
        """``/api/show``'s ``capabilities`` (``completion``, ``vision``, ``embedding``...) in our words; ``None``
        from an Ollama too old to list them (before 0.6)."""
        listed = self.field(await self.show(model), "capabilities", list, "a model's details")
        if not listed:
            return None
        names = {"completion": "chat", "embedding": "embeddings"}
        return frozenset(names.get(str(name), str(name)) for name in listed)

    async def describe(self, model: str) -> ModelFacts:
        """``/api/show`` for what the model is, ``/api/ps`` for how it is loaded (VRAM, context) if it is."""
        running = await self._model_list("/api/ps", "a list of loaded models")
        loaded = next((entry for entry in running if entry["name"] == model), None)
        return ModelFacts(self.name, show_facts(await self.show(model), loaded))

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """The body is encoded here, at the call, and sent on the first ``__anext__``."""
        message: dict[str, Any] = {"role": "user", "content": request.prompt}
        if request.pictures:
            message["images"] = [picture.base64 for picture in request.pictures]
        options = {
            key: value
            for key, value in (
                ("temperature", request.temperature),
                ("num_predict", request.max_tokens),
                ("seed", request.seed),
            )
            if value is not None
        }
        system = [{"role": "system", "content": request.system}] if request.system else []
        body = {"model": request.model, "messages": [*system, message], "stream": True, "options": options}
        return self._chat(request.model, json_body(body))

    async def _chat(self, model: str, body: bytes) -> AsyncIterator[Chunk]:
        with self.errors():
            response, resent_at = await self.send_stream("/api/chat", body)
            try:
                if (sent_at := sent(response)) is not None or resent_at is not None:
                    yield Chunk(resent_at=resent_at, sent_at=sent_at)  # the clock's start, before any text
                if response.status_code >= 400:
                    await response.aread()
                    self.raise_for_status(response, model)
                done = False
                # After the done chunk, read on to the body's end: httpx only keeps a fully read
                # connection alive, and a new connection per request would add to the next TTFT.
                async for line in response.aiter_lines():
                    if done or not line.strip():
                        continue
                    data = self.decode(line)
                    if "error" in data:
                        error = one_line(str(data["error"]))
                        raise BackendError(f"Ollama at {self.url} reported an error mid-stream: {error}")
                    reply = self.field(data, "message", dict, "a chunk") or {}
                    done = bool(self.field(data, "done", bool, "a chunk"))
                    yield Chunk(
                        content=self.field(reply, "content", str, "a message") or "",
                        thinking=self.field(reply, "thinking", str, "a message") or "",
                        timings=self._timings(data) if done else None,
                        breakdown=self._breakdown(data) if done else None,
                        arrived_at=arrival(response),
                    )
            finally:
                await response.aclose()
        if not done:
            raise BackendError(f"Ollama at {self.url} ended the stream without its final (done) chunk")

    def _timings(self, final: dict[str, Any]) -> ServerTimings:
        """The final chunk's counts and durations (nanoseconds), type-checked; ``stream_metrics`` judges values."""
        where = "a final chunk"
        return ServerTimings(
            output_tokens=self.number(final, "eval_count", where),
            eval_ns=self.number(final, "eval_duration", where),
            prompt_tokens=self.number(final, "prompt_eval_count", where),
            prompt_eval_ns=self.number(final, "prompt_eval_duration", where),
            load_ns=self.number(final, "load_duration", where),
            total_ns=self.number(final, "total_duration", where),
        )

    def _breakdown(self, final: dict[str, Any]) -> Breakdown | None:
        """``prompt_eval_count`` includes cached tokens (Ollama's llama-server path adds ``cache_n``, PR #16428)
        while ``prompt_eval_duration`` covers only the new ones; ``prompt_eval_cached_count`` is omitted when
        zero, so its absence is unknown, not a miss."""
        cached = self.number(final, "prompt_eval_cached_count", "a final chunk")
        return None if cached is None else Breakdown(cached_prompt_tokens=cached)
