"""The two embeddings protocols, spoken over the backend's own keep-alive HTTP client.

LlamaBurn's ``Backend`` only knows chat, so this plugin sends its requests through ``backend.client`` (an
``httpx.AsyncClient`` whose base URL is the server's) and picks the wire protocol from ``backend.name``.
Reusing that client keeps one TCP connection for the whole run: a new connection per request would add
its handshake to every batch's latency.

- Ollama: ``POST /api/embed {model, input: [...]}`` -> ``{embeddings: [[...]], prompt_eval_count}``.
- OpenAI-compatible (llama.cpp's server included): ``POST /v1/embeddings {model, input: [...]}``
  -> ``{data: [{embedding: [...]}], usage: {prompt_tokens}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llamaburn.plugin import Backend, BackendError, ConfigError

Vectors = list[Any]
Parser = Callable[[dict[str, Any]], tuple[Vectors | None, Any]]


@dataclass(frozen=True, slots=True)
class Protocol:
    """Where to send a batch, and how to read the vectors and the input token count from the answer."""

    path: str
    parse: Parser


@dataclass(frozen=True, slots=True)
class Batch:
    """One answered request. ``input_tokens`` is the server's own count, ``None`` when it gives none."""

    latency_s: float
    vectors: int
    dimension: int
    input_tokens: int | None


def _ollama(data: dict[str, Any]) -> tuple[Vectors | None, Any]:
    return data.get("embeddings"), data.get("prompt_eval_count")


def _openai(data: dict[str, Any]) -> tuple[Vectors | None, Any]:
    items = data.get("data")
    vectors = [item.get("embedding") for item in items if isinstance(item, dict)] if isinstance(items, list) else None
    usage = data.get("usage")
    return vectors, usage.get("prompt_tokens") if isinstance(usage, dict) else None


OLLAMA = Protocol("/api/embed", _ollama)
OPENAI = Protocol("/v1/embeddings", _openai)
PROTOCOLS = {"ollama": OLLAMA, "openai": OPENAI, "embedded": OPENAI}  # embedded: llama.cpp's OpenAI server


def protocol_for(backend: Backend) -> Protocol:
    if backend.name not in PROTOCOLS:
        raise ConfigError(
            f"embeddings benchmarks speak Ollama's /api/embed and the OpenAI /v1/embeddings API; "
            f"backend {backend.name!r} is neither: pick one of {', '.join(PROTOCOLS)}"
        )
    return PROTOCOLS[backend.name]


async def embed(backend: Backend, model: str, texts: list[str]) -> Batch:
    """Embed ``texts`` in one request. The clock covers sending it and reading the whole answer, not parsing.

    Every failure is a one-line ``BackendError``: unreachable server, HTTP error (with the server's message),
    or an answer that does not hold one vector of one length per text.
    """
    protocol = protocol_for(backend)
    where = f"{backend.label} at {backend.url}"
    with backend.errors():
        started = time.perf_counter()
        response = await backend.client.post(protocol.path, json={"model": model, "input": texts})
        latency_s = time.perf_counter() - started
    try:
        backend.raise_for_status(response)
    except BackendError as exc:
        raise BackendError(f"{exc} (POST {protocol.path})") from None
    vectors, tokens = protocol.parse(backend.decode(response.text))
    if not isinstance(vectors, list) or not all(isinstance(vector, list) and vector for vector in vectors):
        raise BackendError(f"{where} answered POST {protocol.path} without a list of embeddings")
    if len(vectors) != len(texts):
        raise BackendError(f"{where} sent {len(vectors)} embeddings for {len(texts)} texts (POST {protocol.path})")
    dimensions = {len(vector) for vector in vectors}
    if len(dimensions) > 1:
        raise BackendError(f"{where} sent embeddings of different lengths {sorted(dimensions)} in one answer")
    counted = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0 else None
    return Batch(latency_s=latency_s, vectors=len(vectors), dimension=dimensions.pop(), input_tokens=counted)
