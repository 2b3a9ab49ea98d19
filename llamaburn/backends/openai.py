"""OpenAI-compatible servers (llama.cpp, vLLM, LM Studio, Ollama's /v1): ``/v1/chat/completions`` over SSE.

Servers differ in what they report: most send ``usage`` when asked with ``stream_options``, llama.cpp's
C++ server adds ``timings``, and llama-cpp-python sends neither, so tokens are then counted from chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from httpx_sse import SSEError, aconnect_sse

from llamaburn.backends.base import Backend, ChatRequest, ModelEntry
from llamaburn.errors import BackendError
from llamaburn.metrics import Chunk, ServerTimings


class OpenAIBackend(Backend):
    name = "openai"
    label = "OpenAI-compatible server"
    default_url = "http://127.0.0.1:8080"

    def __init__(self, url: str | None = None, **options: Any) -> None:
        url = (url or self.default_url).strip().rstrip("/")
        if "://" not in url:
            url = f"http://{url}"  # host:port, as people type it
        super().__init__(url.removesuffix("/v1"), **options)

    async def version(self) -> str | None:
        return None

    async def models(self) -> list[ModelEntry]:
        data = await self.get_json("/v1/models")
        return [ModelEntry(id=m["id"], details={"owned_by": m.get("owned_by")}) for m in data.get("data", [])]

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        content: Any = request.prompt
        if request.images:
            content = [{"type": "text", "text": request.prompt}] + [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}
                for image in request.images
            ]
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "user", "content": content}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key, value in (
            ("temperature", request.temperature),
            ("max_tokens", request.max_tokens),
            ("seed", request.seed),
        ):
            if value is not None:
                body[key] = value
        with self.errors(request.model):
            async with aconnect_sse(self.client, "POST", "/v1/chat/completions", json=body) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    self.raise_for_status(source.response, request.model)
                done = False
                try:
                    # Read on past [DONE] to the body's end, so httpx keeps the connection alive.
                    async for event in source.aiter_sse():
                        if done:
                            continue
                        if event.data.strip() == "[DONE]":
                            done = True
                            continue
                        yield self._parse(self.decode(event.data))
                except SSEError as exc:
                    message = f"{self.label} at {self.url} did not answer with an event stream: {exc}"
                    raise BackendError(message) from None
        if not done:
            raise BackendError(f"{self.label} at {self.url} ended the stream without [DONE]")

    def _parse(self, data: dict[str, Any]) -> Chunk:
        if "error" in data:
            error = data["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise BackendError(f"{self.label} at {self.url} reported an error mid-stream: {message}")
        choices = data.get("choices") or []
        delta = (choices[0].get("delta") or {}) if choices else {}
        usage = data.get("usage") or {}
        timings = data.get("timings") or {}
        server = None
        if usage or timings:
            predicted_ms, prompt_ms = timings.get("predicted_ms"), timings.get("prompt_ms")
            server = ServerTimings(
                output_tokens=usage.get("completion_tokens") or timings.get("predicted_n"),
                eval_ns=int(predicted_ms * 1e6) if predicted_ms else None,
                prompt_tokens=usage.get("prompt_tokens") or timings.get("prompt_n"),
                prompt_eval_ns=int(prompt_ms * 1e6) if prompt_ms else None,
            )
        thinking = delta.get("reasoning_content") or delta.get("reasoning") or ""
        return Chunk(content=delta.get("content") or "", thinking=thinking, timings=server)
