"""A fake model server speaking Ollama's and the OpenAI streaming protocols, for tests and benchmarks.

It runs uvicorn on a real loopback port in a background thread, so a backend talks to it over TCP exactly
as it talks to a real server, and its pacing runs on its own event loop, unaffected by the test's. The same
app also answers through respx (``respx_routes``), in the client's process and without a socket, for tests
that mock the backend at the httpx layer.
Token ``i`` (thinking tokens first, then content) is due at ``start + ttft_s + i / tokens_per_s`` on the
server's monotonic clock, ``start`` being when the request's body has been read, and a chunk is sent when
its last token is due, so rates are exact.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import respx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from llamaburn.testing import llama_cpp
from llamaburn.testing.script import Piece, Script, chunked

DEFAULT_MODEL = "llama3.2:1b"
OLLAMA_VERSION = "0.12.3"


@dataclass(frozen=True)
class Received:
    """One request the server got; ``client_port`` tells TCP connections apart."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int


class _DroppedConnection(Exception):
    """Raised mid-body: uvicorn then closes the socket without ending the chunked body."""


class FakeServer:
    """Use as ``with FakeServer(Script(...)) as server: OllamaBackend(server.url)``.

    ``script`` can be swapped between requests; ``requests`` holds every request received, in order.
    """

    def __init__(
        self, script: Script | None = None, models: Sequence[str] = (DEFAULT_MODEL,), slots: int | None = None,
        port: int = 0,
    ) -> None:
        """``slots``: answer at most that many chats at once, as llama-server's ``-np``; the rest wait their
        turn, and their scripted times start when a slot frees (so queueing shows in TTFT). ``None``: all
        at once. ``port``: 0 for a free one; a given port is bound with ``SO_REUSEPORT``, so several fake
        processes can share it and the kernel spreads connections over them (the concurrency benchmark)."""
        self.script = script or Script()
        self.slots = slots
        self._slots: asyncio.Semaphore | None = None
        self.models = list(models)
        self.requests: list[Received] = []
        self.model_path = "/models/absent.gguf"  # playing llama-server: /props's model_path (a GGUF, or not)
        self.tokenizer = llama_cpp.Tokenizer()
        self._stopping = threading.Event()
        self.lateness_s: list[tuple[bool, float]] = []
        """Each content chunk's lateness as the fake sent it (whether it is an answer's first, and how long
        after its due time it was handed to the socket): what the fake's own pacing adds to a client's error."""
        self._socket = socket.socket()
        if port:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._socket.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.app = Starlette(routes=[
            Route("/api/chat", self._ollama_chat, methods=["POST"]),
            Route("/api/tags", self._ollama_tags),
            Route("/api/ps", self._ollama_tags),
            Route("/api/show", self._ollama_show, methods=["POST"]),
            Route("/api/version", self._ollama_version),
            Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
            Route("/v1/models", self._openai_models),
            Route("/props", self._llama_props),
            Route("/tokenize", self._llama_tokens, methods=["POST"]),
            Route("/detokenize", self._llama_tokens, methods=["POST"]),
        ])
        config = uvicorn.Config(self.app, log_level="critical", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)

    @property
    def connections(self) -> int:
        """Distinct TCP connections seen so far: a keep-alive client makes exactly one."""
        return len({r.client_port for r in self.requests})

    def start(self) -> FakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake server at {self.url} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop at once: stalled streams wake up, and uvicorn does not wait for open connections."""
        self._stopping.set()
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respx_routes(self, router: respx.MockRouter) -> None:
        """Answer every request for this server's URL in-process, through ``router``, instead of over TCP."""
        router.route(url__startswith=self.url).mock(side_effect=self._over_respx)

    async def _over_respx(self, request: httpx.Request) -> httpx.Response:
        """Run the app on ``request`` as an ASGI task and stream its body messages as the response's.

        The body is not buffered, so tokens still arrive paced, one chunk at a time; a dropped connection
        surfaces as the error httpx raises for a truncated chunked body. Closing the response early (a
        cancel) cancels the app's task, as a closed socket would.
        """
        messages: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
            "scheme": request.url.scheme, "path": request.url.path, "raw_path": request.url.raw_path,
            "query_string": request.url.query, "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 1), "server": (request.url.host, request.url.port),
        }
        pending = [{"type": "http.request", "body": request.content, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await asyncio.Event().wait()  # the client never disconnects on its own: closing cancels the task
            raise AssertionError("unreachable")

        async def serve() -> None:
            try:
                await self.app(scope, receive, messages.put)
            except _DroppedConnection:
                await messages.put({"type": "dropped"})

        task = asyncio.create_task(serve())
        start = await messages.get()
        if start["type"] != "http.response.start":
            raise httpx.RemoteProtocolError("server disconnected without sending a response")

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    message = await messages.get()
                    if message["type"] == "dropped":
                        raise httpx.RemoteProtocolError("peer closed connection without sending complete "
                                                        "message body (incomplete chunked read)")
                    if message.get("body"):
                        yield message["body"]
                    if not message.get("more_body"):
                        return
            finally:
                task.cancel()

        return httpx.Response(start["status"], headers=start["headers"], content=body())

    async def _record(self, request: Request) -> Any:
        body = await request.json() if request.method == "POST" else None
        port = request.client.port if request.client else 0
        self.requests.append(Received(request.method, request.url.path, dict(request.headers), body, port))
        return body

    async def _sleep_until(self, deadline: float, exact: bool = False) -> None:
        """Sliced, so stop() never waits behind a stall.

        asyncio wakes on epoll, whose timeouts are whole milliseconds rounded up, so a plain sleep is up to
        1 ms late. Later tokens catch up (their deadlines are absolute), but the first one's lateness would
        be TTFT error blamed on the client: ``exact`` yields to the loop for the last 2 ms instead.
        """
        margin = 0.002 if exact else 0.0
        while (left := deadline - time.monotonic()) > margin and not self._stopping.is_set():
            await asyncio.sleep(min(left - margin, 0.05))
        while exact and time.monotonic() < deadline and not self._stopping.is_set():
            await asyncio.sleep(0)

    async def _stream(
        self, start: float, pieces: list[Piece], encode: Callable[[Piece], bytes], error: bytes,
        malformed: bytes, final: Callable[[], list[bytes]], head: tuple[bytes, ...] = (),
    ) -> AsyncIterator[bytes]:
        """The body of one answer, once a slot is free: ``head`` at once, then paced chunks, faults and
        ``final`` as scripted."""
        if self.slots is not None:
            self._slots = self._slots or asyncio.Semaphore(self.slots)
            await self._slots.acquire()
            start = time.monotonic()  # the script's clock starts when the request gets a slot
        try:
            script = self.script
            for line in head:
                yield line
            for index in range(len(pieces) + 1):
                if index == script.stall_after and script.stall_s:
                    await self._sleep_until(time.monotonic() + script.stall_s)
                if index == script.drop_after:
                    raise _DroppedConnection
                if index in (script.error_after, script.malformed_after):
                    yield error if index == script.error_after else malformed
                    return
                if index == len(pieces):
                    break
                pace = pieces[index].last_index / script.tokens_per_s if script.tokens_per_s else 0.0
                due = start + script.ttft_s + pace
                await self._sleep_until(due, exact=index == 0)
                yield encode(pieces[index])
                self.lateness_s.append((index == 0, time.monotonic() - due))
            if not script.no_done:
                for line in final():
                    yield line
        finally:
            if self.slots is not None and self._slots is not None:
                self._slots.release()

    def _refusal(self, model: str, openai: bool) -> Response | None:
        """The protocol's error answer for an unknown model or a scripted HTTP status; ``None`` to go on."""
        script, headers = self.script, None
        if model not in self.models:
            status = 404
            message = f"The model `{model}` does not exist." if openai else f"model '{model}' not found"
        elif script.status:
            status, message = script.status, script.error_message
            headers = {"Retry-After": str(script.retry_after)} if script.retry_after else None
        else:
            return None
        kind = "invalid_request_error" if status < 500 else "server_error"
        error = {"message": message, "type": kind, "param": None, "code": status} if openai else message
        return JSONResponse({"error": error}, status, headers=headers)

    # Ollama: /api/*, NDJSON, durations in nanoseconds with zero fields omitted.

    async def _ollama_chat(self, request: Request) -> Response:
        body = await self._record(request)
        start = time.monotonic()  # the whole request is here: a real server cannot begin before
        script, model = self.script, str(body.get("model"))
        if refusal := self._refusal(model, openai=False):
            return refusal
        limit = (body.get("options") or {}).get("num_predict")
        pieces = chunked(script, limit)
        count = pieces[-1].last_index + 1 if pieces else 0

        def line(data: dict[str, Any]) -> bytes:
            stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            return json.dumps({"model": model, "created_at": stamp, **data}).encode() + b"\n"

        def encode(piece: Piece) -> bytes:
            message = {"role": "assistant", "content": piece.content}
            if piece.thinking:
                message["thinking"] = piece.thinking
            return line({"message": message, "done": False})

        def final() -> list[bytes]:
            eval_s = count / script.tokens_per_s if script.tokens_per_s else 0.0
            timings = {
                "total_duration": int((time.monotonic() - start) * 1e9),
                "load_duration": int(script.load_s * 1e9),
                "prompt_eval_count": script.prompt_tokens,  # cached ones included, as Ollama's llama-server path
                "prompt_eval_cached_count": script.cached_tokens,
                "prompt_eval_duration": int(script.ttft_s * 1e9),  # the new prompt tokens only
                "eval_count": count,
                "eval_duration": int(eval_s * 1e9),
            }
            reason = "length" if limit is not None and count >= limit else "stop"
            timings = {key: value for key, value in timings.items() if value}
            return [line({"message": {"role": "assistant", "content": ""}, "done": True,
                          "done_reason": reason, **timings})]

        error = line({"error": script.error_message})
        malformed = b'{"model": "' + model.encode() + b'", "mess\n'
        stream = self._stream(start, pieces, encode, error, malformed, final)
        return StreamingResponse(stream, media_type="application/x-ndjson")

    async def _ollama_tags(self, request: Request) -> Response:
        await self._record(request)
        details = {"format": "gguf", "family": "llama", "families": ["llama"], "parameter_size": "1.2B",
                   "quantization_level": "Q4_K_M"}
        models = [{"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 1_300_000_000,
                   "digest": "0" * 64, "details": details} for m in self.models]
        if request.url.path == "/api/ps":
            for entry in models:
                entry.update(expires_at="2099-01-01T00:00:00Z", size_vram=entry["size"])
        return JSONResponse({"models": models})

    async def _ollama_show(self, request: Request) -> Response:
        model = str((await self._record(request)).get("model"))
        if model not in self.models:  # a scripted status is for chat only
            return JSONResponse({"error": f"model '{model}' not found"}, 404)
        return JSONResponse({
            "license": "fake", "template": "{{ .Prompt }}", "parameters": "stop \"<|eot_id|>\"",
            "details": {"format": "gguf", "family": "llama", "parameter_size": "1.2B",
                        "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "llama", "general.parameter_count": 1_235_814_432,
                           "llama.context_length": 131072},
            "capabilities": ["completion"],
        })

    async def _ollama_version(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"version": OLLAMA_VERSION})

    # OpenAI: /v1/*, SSE events, usage only when asked for and scripted.

    async def _openai_chat(self, request: Request) -> Response:
        body = await self._record(request)
        start = time.monotonic()  # the whole request is here: a real server cannot begin before
        script, model = self.script, str(body.get("model"))
        if refusal := self._refusal(model, openai=True):
            return refusal
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        pieces = chunked(script, limit)
        count = pieces[-1].last_index + 1 if pieces else 0
        thinking = max((piece.last_index + 1 for piece in pieces if piece.thinking), default=0)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                "created": int(time.time()), "model": model}
        if include_usage:
            base["usage"] = None  # OpenAI then puts a null usage on every chunk but the last

        def event(data: Any) -> bytes:
            return f"data: {json.dumps(data)}\n\n".encode()

        def choice(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        def encode(piece: Piece) -> bytes:
            delta = {script.thinking_field: piece.thinking} if piece.thinking else {"content": piece.content}
            return choice(delta)

        def final() -> list[bytes]:
            finish = "length" if limit is not None and count >= limit else "stop"
            lines = [choice({}, finish)]
            if include_usage and script.send_usage:
                lines.append(event({**base, "choices": [], **self._usage(body, count, thinking)}))
            return [*lines, b"data: [DONE]\n\n"]

        error = event({"error": {"message": script.error_message, "type": "server_error"}})
        role = choice({"role": "assistant", "content": ""})  # role-only, sent before the first token
        stream = self._stream(start, pieces, encode, error, b'data: {"choices": [\n\n', final, (role,))
        return StreamingResponse(stream, media_type="text/event-stream")

    def _usage(self, body: dict[str, Any], count: int, thinking: int) -> dict[str, Any]:
        """The final chunk's ``usage`` and, playing llama-server, its ``timings``. Like llama-server, a request
        with ``cache_prompt: false`` gets no cache hit."""
        script = self.script
        uncached = body.get("cache_prompt") is False and script.cache_prompt_honoured
        cached = 0 if uncached and script.cached_tokens is not None else script.cached_tokens
        usage: dict[str, Any] = {"prompt_tokens": script.prompt_tokens, "completion_tokens": count,
                                 "total_tokens": script.prompt_tokens + count}
        if cached is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        if script.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": thinking}
        if not script.llama_cpp:
            return {"usage": usage}
        return {"usage": usage, "timings": llama_cpp.timings(script, body, count, cached)}

    async def _openai_models(self, request: Request) -> Response:
        await self._record(request)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "llamaburn"} for m in self.models]
        if self.script.llama_cpp:
            for entry in data:
                entry["meta"] = llama_cpp.META
        return JSONResponse({"object": "list", "data": data})

    async def _llama_props(self, request: Request) -> Response:
        await self._record(request)
        if not self.script.llama_cpp:
            return JSONResponse({"error": {"code": 404, "message": "File Not Found"}}, 404)
        return JSONResponse(llama_cpp.props(self.model_path, self.slots or 1))

    async def _llama_tokens(self, request: Request) -> Response:
        """``/tokenize`` (``content`` to ``tokens``) and ``/detokenize`` (back), by ``llama_cpp.Tokenizer``."""
        body = await self._record(request)
        if not self.script.llama_cpp:
            return JSONResponse({"error": {"code": 404, "message": "File Not Found"}}, 404)
        if request.url.path == "/tokenize":
            return JSONResponse({"tokens": self.tokenizer.tokenize(str(body.get("content", "")))})
        return JSONResponse({"content": self.tokenizer.detokenize(list(body.get("tokens", [])))})

