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
import signal
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

    def __init__(self, kind: str, argument: str, *options: str) -> None:
        self.command = [sys.executable, "-m", "benchmarks.servers", kind, argument, *options]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.report: dict[str, Any] = {}
        """What the server printed as it stopped (the fake: its pacing report)."""

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
                last = self.process.stdout.read().strip().splitlines()
                self.report = json.loads(last[-1]) if last else {}
                self.process.stdout.close()


def fake_server(port: int = 0, **script: Any) -> ServerProcess:
    """The fake in a process of its own; several given one ``port`` share it (``SO_REUSEPORT``)."""
    return ServerProcess("fake", json.dumps(script), *([str(port)] if port else []))


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


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _fake(script_json: str, port: int) -> None:
    """Serve until terminated, then print the fake's own pacing report on the last line of stdout: how late
    it handed each content chunk to the socket (first tokens apart), and its CPU time."""
    sys.path.insert(0, str(ROOT))
    from llamaburn.engine.metrics import percentile
    from llamaburn.testing import FakeServer, Script

    signal.signal(signal.SIGTERM, _interrupt)
    with FakeServer(Script(**json.loads(script_json)), port=port) as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            report: dict[str, Any] = {"cpu_s": time.process_time()}
            for name, chosen in (("first", True), ("chunk", False)):
                late = sorted(ms * 1000 for first, ms in server.lateness_s if first == chosen)
                report[name] = {"count": len(late), "p50_ms": percentile(late, 50) if late else None,
                                "p95_ms": percentile(late, 95) if late else None, "max_ms": max(late, default=None)}
            print(json.dumps(report), flush=True)


if __name__ == "__main__":
    kind, argument = sys.argv[1], sys.argv[2]
    try:
        if kind == "blast":
            asyncio.run(_blast(int(argument)))
        else:
            _fake(argument, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    except KeyboardInterrupt:
        pass
