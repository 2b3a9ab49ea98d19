"""Ollama's native API: ``/api/chat`` streams NDJSON, and its final chunk carries the server's timings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from llamaburn.backends.base import Backend, ChatRequest, ModelEntry
from llamaburn.errors import BackendError, ConfigError
from llamaburn.metrics import Chunk, ServerTimings
from llamaburn.modelinfo import ModelInfo, from_ollama

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


class OllamaBackend(Backend):
    name = "ollama"
    label = "Ollama"
    default_url = ""
    unreachable_hint = "start it with `ollama serve`, or pick another backend (--backend embedded)"

    def __init__(self, url: str | None = None, **options: Any) -> None:
        super().__init__(ollama_url(url), **options)

    async def version(self) -> str | None:
        return (await self.get_json("/api/version")).get("version")

    async def models(self) -> list[ModelEntry]:
        data = await self.get_json("/api/tags")
        return [
            ModelEntry(id=m["name"], size_bytes=m.get("size"), details=m.get("details") or {})
            for m in data.get("models", [])
        ]

    async def show(self, model: str) -> dict[str, Any]:
        with self.errors(model):
            response = await self.client.post("/api/show", json={"model": model})
            self.raise_for_status(response, model)
            return self.decode(response.text)

    async def describe(self, model: str, info: ModelInfo) -> None:
        """``/api/show`` for what the model is, ``/api/ps`` for how it is loaded (VRAM, context) if it is."""
        loaded = next((m for m in (await self.get_json("/api/ps")).get("models", []) if m.get("name") == model), None)
        from_ollama(info, await self.show(model), loaded)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        message: dict[str, Any] = {"role": "user", "content": request.prompt}
        if request.images:
            message["images"] = request.images
        options = {
            key: value
            for key, value in (
                ("temperature", request.temperature),
                ("num_predict", request.max_tokens),
                ("seed", request.seed),
            )
            if value is not None
        }
        body = {"model": request.model, "messages": [message], "stream": True, "options": options}
        with self.errors(request.model):
            async with self.client.stream("POST", "/api/chat", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self.raise_for_status(response, request.model)
                done = False
                # After the done chunk, read on to the body's end: httpx only keeps a fully read
                # connection alive, and a new connection per request would add to the next TTFT.
                async for line in response.aiter_lines():
                    if done or not line.strip():
                        continue
                    data = self.decode(line)
                    if "error" in data:
                        raise BackendError(f"Ollama at {self.url} reported an error mid-stream: {data['error']}")
                    reply = data.get("message") or {}
                    done = bool(data.get("done"))
                    yield Chunk(
                        content=reply.get("content") or "",
                        thinking=reply.get("thinking") or "",
                        timings=_timings(data) if done else None,
                    )
        if not done:
            raise BackendError(f"Ollama at {self.url} ended the stream without its final (done) chunk")


def _timings(final: dict[str, Any]) -> ServerTimings:
    return ServerTimings(
        output_tokens=final.get("eval_count"),
        eval_ns=final.get("eval_duration"),
        prompt_tokens=final.get("prompt_eval_count"),
        prompt_eval_ns=final.get("prompt_eval_duration"),
        load_ns=final.get("load_duration"),
        total_ns=final.get("total_duration"),
    )
