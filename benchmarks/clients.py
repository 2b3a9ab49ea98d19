"""The clients the suite compares: LlamaBurn's real path, a minimal httpx client and a raw-socket probe.

All three apply docs/metrics.md's definitions to their own clock readings: TTFT = first text chunk - send,
TPS = (tokens - 1) / (last text chunk - first text chunk), tokens = the server's count when it gives one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.bus import Subscription
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import Registry, load_registry
from llamaburn.engine.runner import Run
from llamaburn.service.assembly import BackendPool, prepare_run
from llamaburn.service.request import RunRequest
from llamaburn.storage.store import Store

Protocol = Literal["ollama", "openai"]
PROTOCOLS: tuple[Protocol, ...] = ("ollama", "openai")
PATHS: dict[Protocol, str] = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One answer as a client saw it."""

    ttft_ms: float
    tps: float | None
    tokens: int
    chunks: int
    total_ms: float


def sample(started: float, arrivals: list[float], ended: float, server_count: int | None) -> Sample:
    tokens = server_count or len(arrivals)
    decode_s = arrivals[-1] - arrivals[0]
    return Sample(
        ttft_ms=(arrivals[0] - started) * 1000,
        tps=(tokens - 1) / decode_s if tokens > 1 and decode_s > 0 else None,
        tokens=tokens,
        chunks=len(arrivals),
        total_ms=(ended - started) * 1000,
    )


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    prompt: str
    max_tokens: int
    temperature: float = 0.0
    seed: int | None = 42

    def body(self, protocol: Protocol) -> dict[str, Any]:
        """The body LlamaBurn's backend sends for this request, so both clients ask the same thing."""
        messages = [{"role": "user", "content": self.prompt}]
        if protocol == "ollama":
            options: dict[str, Any] = {"temperature": self.temperature, "num_predict": self.max_tokens}
            if self.seed is not None:
                options["seed"] = self.seed
            return {"model": self.model, "messages": messages, "stream": True, "options": options}
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "stream_options": {"include_usage": True}, "temperature": self.temperature,
                                "max_tokens": self.max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed
        return body


# LlamaBurn: the real prepare_run -> Run -> Modality -> Backend path, with its bus and a Recorder, as `llamaburn bench`
# runs it.

_registry: Registry | None = None


def text_registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


def text_modality() -> Modality:
    return text_registry().modality("text")


def backend_for(protocol: Protocol, url: str) -> Backend:
    return OllamaBackend(url) if protocol == "ollama" else OpenAIBackend(url)


def temp_store() -> Store:
    directory = Path(tempfile.mkdtemp(prefix="llamaburn-bench-"))
    return Store(f"sqlite:///{directory / 'history.db'}")


async def llamaburn_run(
    backend: Backend,
    request: Request,
    store: Store | None,
    iterations: int = 1,
    warmup: int = 0,
    subscribers: tuple[Callable[[Subscription], Any], ...] = (),
    marks: dict[str, float] | None = None,
) -> Run:
    """One run through ``Run.execute()``; returns once every subscriber and the recorder are done.

    ``marks`` gets ``perf_counter()`` readings: ``executed`` (``execute()`` returned) and ``recorded``
    (the recorder committed its last write).
    """
    registry = text_registry()
    inputs = {
        "iterations": iterations, "warmup": warmup, "prompts": [request.prompt], "max_tokens": request.max_tokens,
        "temperature": request.temperature, "seed": request.seed,
        "cache_mode": "warm",  # the reference clients send the prompt as it is, so LlamaBurn must too: like for like
    }
    asked = RunRequest(inputs=inputs, backend=backend.name, url=backend.url, api_key=backend.api_key,
                       read_timeout=backend.read_timeout, model=request.model)
    pool = BackendPool(registry)
    pool.add(backend)  # the caller's backend and its connections; the caller closes it
    prepared = await prepare_run(asked, registry, pool)
    run = prepared.run
    recorder = await prepared.record(store)
    tasks = [asyncio.ensure_future(subscriber(run.bus.subscribe(replay=True))) for subscriber in subscribers]
    await run.execute()
    if marks is not None:
        marks["executed"] = time.perf_counter()
        if recorder:
            recorder.task.add_done_callback(lambda _: marks.__setitem__("recorded", time.perf_counter()))
    await asyncio.gather(*tasks, *([recorder.task] if recorder else []))
    if run.status != "completed":
        raise RuntimeError(f"run {run.status}: {run.error}")
    return run


def llamaburn_samples(run: Run) -> list[Sample]:
    return [
        Sample(m["ttft_ms"], m["tps"], m["output_tokens"], m["chunks"], m["total_ms"]) for m in run.iterations
    ]


# The reference: one keep-alive httpx client, a timestamp per content line, no bus, no pydantic, no Chunk.


class ReferenceClient:
    def __init__(self, url: str, protocol: Protocol) -> None:
        self.protocol = protocol
        self.client = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=None))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def measure(self, request: Request) -> Sample:
        arrivals: list[float] = []
        count: int | None = None
        body = request.body(self.protocol)
        started = time.perf_counter()
        async with self.client.stream("POST", PATHS[self.protocol], json=body) as response:
            async for line in response.aiter_lines():
                now = time.perf_counter()
                if self.protocol == "ollama":
                    if not line:
                        continue
                    data = json.loads(line)
                    if data["message"].get("content"):
                        arrivals.append(now)
                    if data.get("done"):
                        count = data.get("eval_count")
                elif line.startswith("data: ") and line != "data: [DONE]":
                    data = json.loads(line[6:])
                    choices = data.get("choices")
                    if choices and choices[0]["delta"].get("content"):
                        arrivals.append(now)
                    if data.get("usage"):
                        count = data["usage"].get("completion_tokens")
        return sample(started, arrivals, time.perf_counter(), count)


# The probe: a blocking socket counting token markers per recv(), to see what the server really sends.

TOKEN_MARK = b'"content": "t'  # llamaburn/testing/servers.py's tokens are "t0 ", "t1 ", ...


def probe(url: str, protocol: Protocol, request: Request) -> Sample:
    """Only for llamaburn/testing/servers.py's server: counts its numbered tokens as bytes arrive, with no parsing."""
    parts = urlsplit(url)
    body = json.dumps(request.body(protocol)).encode()
    head = (f"POST {PATHS[protocol]} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    arrivals: list[float] = []
    tail, end = b"", b"0\r\n\r\n"
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(head + body)
        while data := sock.recv(1 << 16):
            now = time.perf_counter()
            window = tail + data
            arrivals.extend([now] * window.count(TOKEN_MARK))
            tail = window[-(len(TOKEN_MARK) - 1) :]
            if window.endswith(end):
                break
    return sample(started, arrivals, time.perf_counter(), None)
