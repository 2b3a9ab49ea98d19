"""Servers for the benchmarks, each in its own process so that its pacing never waits on our GIL.

- ``fake``: llamaburn/testing/servers.py's ``FakeServer`` (both protocols, exact pacing), driven by a ``Script``.
- ``blast``: a raw asyncio server that answers every chat request with one pre-rendered body of N tokens
  written at once, so the client, not the server, is the limit: the pipeline-ceiling source.

Run as ``python -m benchmarks.servers fake '{"tokens": 100, ...}'`` or ``... blast 100000``; the process
prints its URL on the first line of stdout and serves until it is terminated.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = "llama3.2:1b"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class ServerProcess:
    """``with ServerProcess("fake", json.dumps(script)) as server: server.url``."""

    def __init__(self, kind: str, argument: str) -> None:
        self.command = [sys.executable, "-m", "benchmarks.servers", kind, argument]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> ServerProcess:
        env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"benchmark server {self.command[3:]} did not start")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()


def fake_server(**script: Any) -> ServerProcess:
    return ServerProcess("fake", json.dumps(script))


def blast_server(tokens: int) -> ServerProcess:
    return ServerProcess("blast", str(tokens))


# The blast server


def _word(index: int) -> str:
    return f"w{index % 1000:03d} "  # 5 characters, about one English word-token


def render_ollama(tokens: int) -> bytes:
    lines = [
        json.dumps({"model": MODEL, "created_at": "2025-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": _word(i)}, "done": False})
        for i in range(tokens)
    ]
    lines.append(json.dumps({"model": MODEL, "created_at": "2025-01-01T00:00:00Z",
                             "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "length",
                             "eval_count": tokens, "eval_duration": tokens * 1000}))
    return ("\n".join(lines) + "\n").encode()


def render_openai(tokens: int) -> bytes:
    base = {"id": "chatcmpl-blast", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": _word(i)}, "finish_reason": None}]}
               for i in range(tokens)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": tokens,
                                                    "total_tokens": tokens + 12}})
    return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


def _response(body: bytes, media_type: str) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {media_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _blast(tokens: int) -> None:
    chat = {
        "/api/chat": _response(render_ollama(tokens), "application/x-ndjson"),
        "/v1/chat/completions": _response(render_openai(tokens), "text/event-stream"),
    }
    other = {
        "/api/tags": _response(json.dumps({"models": [{"name": MODEL, "size": 1, "details": {}}]}).encode(),
                               "application/json"),
        "/api/version": _response(b'{"version": "blast"}', "application/json"),
        "/api/ps": _response(b'{"models": []}', "application/json"),
        "/api/show": _response(json.dumps({"details": {"family": "llama", "parameter_size": "1B"},
                                           "model_info": {}, "capabilities": ["completion"]}).encode(),
                               "application/json"),
        "/v1/models": _response(json.dumps({"data": [{"id": MODEL, "owned_by": "blast"}]}).encode(),
                                "application/json"),
    }

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = next((int(line.split(":", 1)[1]) for line in lines
                               if line.lower().startswith("content-length:")), 0)
                await reader.readexactly(length)
                writer.write(chat.get(path) or other.get(path) or NOT_FOUND)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def _fake(script_json: str) -> None:
    sys.path.insert(0, str(ROOT))
    from llamaburn.testing import FakeServer, Script

    with FakeServer(Script(**json.loads(script_json))) as server:
        print(server.url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    kind, argument = sys.argv[1], sys.argv[2]
    try:
        if kind == "blast":
            asyncio.run(_blast(int(argument)))
        else:
            _fake(argument)
    except KeyboardInterrupt:
        pass
