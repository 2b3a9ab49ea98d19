"""A fake embeddings server speaking Ollama's ``/api/embed`` and the OpenAI ``/v1/embeddings`` protocol.

It runs uvicorn on a real loopback port in a background thread, so the plugin talks to it over TCP through
LlamaBurn's own backend, exactly as to a real server. It also answers the model-listing endpoints LlamaBurn
calls before a run (``/api/tags``, ``/api/version``, ``/api/show``, ``/api/ps``, ``/v1/models``), so a whole
``llamaburn bench`` or app session can run against it.

Each request is answered after ``latency_s`` on the server's own clock, so a measured latency is never
below it. A text's vector is derived from the text itself and its token count is its number of words.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_MODEL = "nomic-embed-text:latest"


@dataclass
class Behaviour:
    """How the server answers embeddings requests; swap it between requests to change the answers."""

    dimension: int = 8
    latency_s: float = 0.0
    token_counts: bool = True  # False: answers carry no prompt_eval_count / usage
    status: int | None = None  # answer every embeddings request with this HTTP error
    error_message: str = "the fake server failed on purpose"
    drop_vector: bool = False  # send one embedding fewer than asked for


@dataclass(frozen=True)
class Received:
    path: str
    body: Any
    client_port: int


def vector(text: str, dimension: int) -> list[float]:
    return [((sum(map(ord, text)) + index) % 97) / 97 for index in range(dimension)]


class FakeEmbeddingsServer:
    """Use as ``with FakeEmbeddingsServer() as server: OllamaBackend(server.url)``."""

    def __init__(self, behaviour: Behaviour | None = None, models: Sequence[str] = (DEFAULT_MODEL,)) -> None:
        self.behaviour = behaviour or Behaviour()
        self.models = list(models)
        self.requests: list[Received] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        app = Starlette(
            routes=[
                Route("/api/embed", self._ollama_embed, methods=["POST"]),
                Route("/v1/embeddings", self._openai_embeddings, methods=["POST"]),
                Route("/api/tags", self._ollama_tags),
                Route("/api/ps", self._ollama_tags),
                Route("/api/show", self._ollama_show, methods=["POST"]),
                Route("/api/version", self._ollama_version),
                Route("/v1/models", self._openai_models),
            ]
        )
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)

    @property
    def embed_requests(self) -> list[Received]:
        return [r for r in self.requests if r.path in ("/api/embed", "/v1/embeddings")]

    def start(self) -> FakeEmbeddingsServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake embeddings server at {self.url} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeEmbeddingsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _record(self, request: Request) -> Any:
        body = await request.json() if request.method == "POST" else None
        port = request.client.port if request.client else 0
        self.requests.append(Received(request.url.path, body, port))
        return body

    async def _embed(self, request: Request, openai: bool) -> tuple[str, list[str], list[list[float]]] | Response:
        """The vectors for a request, after the scripted latency; or the protocol's error answer."""
        started = time.monotonic()
        body = await self._record(request)
        behaviour, model = self.behaviour, str(body.get("model"))
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        if model not in self.models:
            status = 404
            message = f"The model `{model}` does not exist." if openai else f'model "{model}" not found, try pulling it'
        elif behaviour.status:
            status, message = behaviour.status, behaviour.error_message
        else:
            await asyncio.sleep(max(0.0, started + behaviour.latency_s - time.monotonic()))
            vectors = [vector(text, behaviour.dimension) for text in texts]
            return model, texts, vectors[:-1] if behaviour.drop_vector else vectors
        error = {"message": message, "type": "invalid_request_error", "code": status} if openai else message
        return JSONResponse({"error": error}, status)

    async def _ollama_embed(self, request: Request) -> Response:
        answer = await self._embed(request, openai=False)
        if isinstance(answer, Response):
            return answer
        model, texts, vectors = answer
        data: dict[str, Any] = {"model": model, "embeddings": vectors, "total_duration": 1, "load_duration": 1}
        if self.behaviour.token_counts:
            data["prompt_eval_count"] = sum(len(text.split()) for text in texts)
        return JSONResponse(data)

    async def _openai_embeddings(self, request: Request) -> Response:
        answer = await self._embed(request, openai=True)
        if isinstance(answer, Response):
            return answer
        model, texts, vectors = answer
        items = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        data: dict[str, Any] = {"object": "list", "data": items, "model": model}
        if self.behaviour.token_counts:
            tokens = sum(len(text.split()) for text in texts)
            data["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(data)

    async def _ollama_tags(self, request: Request) -> Response:
        await self._record(request)
        details = {"format": "gguf", "family": "nomic-bert", "parameter_size": "137M", "quantization_level": "F16"}
        return JSONResponse({"models": [{"name": m, "model": m, "size": 274_000_000, "details": details}
                                        for m in self.models]})

    async def _ollama_show(self, request: Request) -> Response:
        model = str((await self._record(request)).get("model"))
        if model not in self.models:
            return JSONResponse({"error": f"model '{model}' not found"}, 404)
        return JSONResponse({"details": {"format": "gguf", "family": "nomic-bert"}, "capabilities": ["embedding"]})

    async def _ollama_version(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"version": "0.12.3"})

    async def _openai_models(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"}
                                                        for m in self.models]})
