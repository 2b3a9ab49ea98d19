"""OpenAI-compatible servers (llama.cpp, vLLM, LM Studio, Ollama's /v1): ``/v1/chat/completions`` over SSE.

Servers differ in what they report: most send ``usage`` when asked with ``stream_options``, llama.cpp's
C++ server adds ``timings``, and llama-cpp-python sends neither, so tokens are then counted from chunks.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from httpx_sse import EventSource, SSEError

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
from llamaburn.backends.llama_server import build_version, local_gguf, meta_facts, model_modalities, props_facts
from llamaburn.backends.transcription import TranscriptionRequest, TranscriptPiece, stream_openai
from llamaburn.backends.wire import json_body, one_line
from llamaburn.errors import BackendError

SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}  # as httpx-sse's aconnect_sse sends


class OpenAIBackend(Backend):
    name = "openai"
    label = "OpenAI-compatible server"
    default_url = "http://127.0.0.1:8080"
    url_placeholder: ClassVar[str | None] = "http://127.0.0.1:8080"
    takes_api_key = True  # vLLM --api-key, LM Studio, hosted servers
    capabilities = frozenset({"chat", "vision", "transcription"})
    prompt_cache = True

    def __init__(self, url: str | None = None, **options: Any) -> None:
        url = (url or self.default_url).strip().rstrip("/")
        if "://" not in url:
            url = f"http://{url}"  # host:port, as people type it
        super().__init__(url.removesuffix("/v1"), **options)
        self._props: dict[str, Any] | None = None

    async def props(self) -> dict[str, Any]:
        """llama-server's ``/props``, asked once; ``{}`` from a server without it (vLLM, LM Studio,
        llama-cpp-python) or that fails to answer it, quietly. A request that got no byte back is asked
        again, once: llama-server may have closed the reused keep-alive connection."""
        if self._props is None:
            self._props = {}
            for _attempt in range(2):
                try:
                    response = await self.client.get("/props")
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                    continue
                except httpx.HTTPError:
                    break
                data = _loads_object(response.text) if response.status_code == 200 else {}
                if "build_info" in data or "total_slots" in data:
                    self._props = data
                break
        return self._props

    async def takes_cache_prompt(self) -> bool:
        return bool(await self.props())

    async def model_capabilities(self, model: str) -> frozenset[str] | None:
        """llama-server's ``/props`` ``modalities`` (``vision: true`` with an ``--mmproj``) for its loaded
        model; ``None`` from servers that do not say (vLLM, LM Studio)."""
        return model_modalities(await self.props())
    async def tokenize(self, text: str) -> list[int] | None:
        """llama-server's ``POST /tokenize``; other servers (no ``/props``) have none."""
        if not await self.props():
            return None
        tokens = self.field(await self.post_json("/tokenize", {"content": text, "add_special": False}),
                            "tokens", list, "a tokenize answer")
        if tokens is None or not all(isinstance(token, int) for token in tokens):
            raise self.broken("a tokenize answer without its 'tokens' list of ids")
        return tokens

    async def detokenize(self, tokens: list[int]) -> str | None:
        """llama-server's ``POST /detokenize``."""
        if not await self.props():
            return None
        content = self.field(await self.post_json("/detokenize", {"tokens": tokens}), "content", str,
                             "a detokenize answer")
        if content is None:
            raise self.broken("a detokenize answer without its 'content'")
        return content

    async def version(self) -> str | None:
        """llama-server's build (``/props`` ``build_info``); other servers do not say."""
        return build_version(await self.props())

    async def describe(self, model: str) -> ModelFacts:
        """llama-server's ``/v1/models`` ``meta`` and ``/props``, and the GGUF header where ``model_path`` is
        a local file (its chat template is the model's own, not the server's fallback). A server without
        these endpoints contributes what its model list has."""
        data = await self.get_json("/v1/models")
        entries = self.field(data, "data", list, "a model list") or []
        entry = next((e for e in entries if isinstance(e, dict) and e.get("id") == model), {})
        meta = entry.get("meta")
        props = await self.props()
        fields = {**meta_facts(meta if isinstance(meta, dict) else {}), **props_facts(props)}
        for name, value in (await asyncio.to_thread(local_gguf, props)).items():
            if fields.get(name) in (None, []) or name == "chat_template":  # the server's n_params is exact
                fields[name] = value
        return ModelFacts("llama.cpp" if props or meta else self.name, fields)

    async def models(self) -> list[ModelEntry]:
        """``/v1/models``: a ``data`` list of objects, each with a string ``id``."""
        entries = self.field(await self.get_json("/v1/models"), "data", list, "a model list")
        if entries is None:
            raise self.broken("a model list without its 'data' list")
        models: list[ModelEntry] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise self.broken(f"a model list whose entry is not an object: {one_line(repr(entry), 80)}")
            model_id = self.field(entry, "id", str, "a model list entry")
            if model_id is None:
                raise self.broken(f"a model list entry without an id: {one_line(repr(entry), 80)}")
            models.append(ModelEntry(id=model_id, details={"owned_by": entry.get("owned_by")}))
        return models

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """The body is encoded here, at the call, and sent on the first ``__anext__``."""
        content: Any = request.prompt
        if request.pictures:
            content = [{"type": "text", "text": request.prompt}] + [
                {"type": "image_url", "image_url": {"url": picture.data_url}} for picture in request.pictures
            ]
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [
                *([{"role": "system", "content": request.system}] if request.system else []),
                {"role": "user", "content": content},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key, value in (
            ("temperature", request.temperature),
            ("max_tokens", request.max_tokens),
            ("seed", request.seed),
            ("cache_prompt", request.cache_prompt),
        ):
            if value is not None:
                body[key] = value
        return self._chat(request.model, json_body(body))

    async def _chat(self, model: str, body: bytes) -> AsyncIterator[Chunk]:
        with self.errors():
            response, resent_at = await self.send_stream("/v1/chat/completions", body, SSE_HEADERS)
            try:
                if (sent_at := sent(response)) is not None or resent_at is not None:
                    yield Chunk(resent_at=resent_at, sent_at=sent_at)  # the clock's start, before any text
                if response.status_code >= 400:
                    await response.aread()
                    self.raise_for_status(response, model)
                done = False
                try:
                    # Read on past [DONE] to the body's end, so httpx keeps the connection alive.
                    async for event in EventSource(response).aiter_sse():
                        if done:
                            continue
                        if event.data.strip() == "[DONE]":
                            done = True
                            if (ended := arrival(response)) is not None:
                                yield Chunk(arrived_at=ended)  # the stream's end, on the socket's clock
                            continue
                        yield self._parse(self.decode(event.data), arrival(response))
                except SSEError as exc:
                    message = f"{self.label} at {self.url} did not answer with an event stream: {exc}"
                    raise BackendError(message) from None
            finally:
                await response.aclose()
        if not done:
            raise BackendError(f"{self.label} at {self.url} ended the stream without [DONE]")

    def transcribe(self, request: TranscriptionRequest) -> AsyncIterator[TranscriptPiece]:
        """``/v1/audio/transcriptions``, streamed where the server streams (``transcription.stream_openai``)."""
        return stream_openai(self, request)

    def _parse(self, data: dict[str, Any], arrived_at: float | None) -> Chunk:
        """One event's chunk, its fields type-checked: a field of the wrong JSON type is a ``BackendError``."""
        if "error" in data:
            error = data["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise BackendError(f"{self.label} at {self.url} reported an error mid-stream: {one_line(str(message))}")
        choices = self.field(data, "choices", list, "a chunk") or []
        if choices and not isinstance(choices[0], dict):
            raise self.broken(f"a chunk whose first choice is {one_line(repr(choices[0]), 80)}, not an object")
        delta = (self.field(choices[0], "delta", dict, "a choice") or {}) if choices else {}
        content = self.field(delta, "content", str, "a delta") or ""
        thinking = self.field(delta, "reasoning_content", str, "a delta") or self.field(
            delta, "reasoning", str, "a delta"
        )
        return Chunk(
            content=content, thinking=thinking or "", timings=self._timings(data), breakdown=self._breakdown(data),
            arrived_at=arrived_at,
        )

    def _timings(self, data: dict[str, Any]) -> ServerTimings | None:
        """The server's counts from ``usage`` (most servers) or llama.cpp's ``timings`` (milliseconds)."""
        usage = self.field(data, "usage", dict, "a chunk") or {}
        timings = self.field(data, "timings", dict, "a chunk") or {}
        if not (usage or timings):
            return None
        predicted_ms = self.number(timings, "predicted_ms", "timings")
        prompt_ms = self.number(timings, "prompt_ms", "timings")
        prompt_n = self.number(timings, "prompt_n", "timings")
        cache_n = self.number(timings, "cache_n", "timings")
        return ServerTimings(
            output_tokens=self.number(usage, "completion_tokens", "usage")
            or self.number(timings, "predicted_n", "timings"),
            eval_ns=predicted_ms * 1e6 if predicted_ms else None,
            prompt_tokens=self.number(usage, "prompt_tokens", "usage")
            or (prompt_n + (cache_n or 0) if prompt_n is not None else None),
            prompt_eval_ns=prompt_ms * 1e6 if prompt_ms else None,
        )

    def _breakdown(self, data: dict[str, Any]) -> Breakdown | None:
        """The cached count, from ``usage.prompt_tokens_details.cached_tokens`` or llama.cpp's
        ``timings.cache_n``: when a server sends both and they differ, neither is trusted (NaN: unknown).
        llama.cpp's ``predicted_ms`` covers ``predicted_n - 1`` tokens: it samples the first at the end of
        its prompt phase (its ``predicted_per_second`` is ``(predicted_n - 1) / predicted_ms``)."""
        usage = self.field(data, "usage", dict, "a chunk") or {}
        timings = self.field(data, "timings", dict, "a chunk") or {}
        details = self.field(usage, "prompt_tokens_details", dict, "usage") or {}
        completion = self.field(usage, "completion_tokens_details", dict, "usage") or {}
        predicted_n = self.number(timings, "predicted_n", "timings")
        breakdown = Breakdown(
            cached_prompt_tokens=_agreed(
                self.number(details, "cached_tokens", "usage.prompt_tokens_details"),
                self.number(timings, "cache_n", "timings"),
            ),
            new_prompt_tokens=self.number(timings, "prompt_n", "timings"),
            thinking_tokens=self.number(completion, "reasoning_tokens", "usage.completion_tokens_details"),
            decoded_tokens=predicted_n - 1 if predicted_n is not None else None,
        )
        return None if breakdown == Breakdown() else breakdown

def _loads_object(text: str) -> dict[str, Any]:
    """A JSON object, or ``{}`` for anything else: ``/props`` is optional, so a bad answer is no answer."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _agreed(first: float | None, second: float | None) -> float | None:
    """The one value two fields give for the same count: either when only one is sent, NaN when they differ."""
    if first is None or second is None:
        return second if first is None else first
    return first if first == second else math.nan
