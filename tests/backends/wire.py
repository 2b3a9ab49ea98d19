"""What the backend tests speak on the wire: a question, its answer collected, and replies respx streams
with the exact bytes real servers send (Ollama's NDJSON chunks, OpenAI-compatible SSE events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from llamaburn.backends.base import Backend, ChatRequest, Chunk
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.testing import DEFAULT_MODEL

OLLAMA = "http://ollama.test:11434"
OPENAI = "http://llamacpp.test:8080"
BACKENDS = [OllamaBackend, OpenAIBackend]


def ask(**fields: Any) -> ChatRequest:
    return ChatRequest(model=fields.pop("model", DEFAULT_MODEL), prompt="Why is the sky blue?", **fields)


async def collect(
    backend: Backend, request: ChatRequest | None = None, into: list[Chunk] | None = None
) -> list[Chunk]:
    """Every chunk of one answer; ``into`` keeps the ones received before an error."""
    chunks = [] if into is None else into
    async for chunk in backend.stream_chat(request or ask()):
        chunks.append(chunk)
    return chunks


def text(chunks: list[Chunk]) -> str:
    return "".join(chunk.content for chunk in chunks)


def streamed(content_type: str, body: list[bytes]) -> Any:
    """A respx side effect answering with ``body`` as a stream; each call gets a fresh generator."""

    async def chunks() -> AsyncIterator[bytes]:
        for piece in body:
            yield piece

    return lambda request: httpx.Response(200, headers={"content-type": content_type}, content=chunks())


def ndjson(*objects: dict[str, Any]) -> Any:
    return streamed("application/x-ndjson", [json.dumps(o).encode() + b"\n" for o in objects])


def sse(*events: dict[str, Any] | str) -> Any:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]
    return streamed("text/event-stream; charset=utf-8", lines)


def ollama_chunk(content: str = "", done: bool = False, **extra: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, **extra.pop("message", {})}
    return {"model": "qwen3:0.6b", "created_at": "2025-06-01T10:00:00.5Z", "message": message, "done": done,
            **extra}


def openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1748772000, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


