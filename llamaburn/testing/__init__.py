"""A testing kit for plugin authors: fake Ollama and OpenAI servers with exact clocks, and a registry that
loads only the plugins a test names. Needs the ``test`` extra (uvicorn, starlette, respx); LlamaBurn itself
never imports this package."""

from llamaburn.testing.registry import registry
from llamaburn.testing.servers import DEFAULT_MODEL, OLLAMA_VERSION, FakeServer, Received, Script

__all__ = ["DEFAULT_MODEL", "OLLAMA_VERSION", "FakeServer", "Received", "Script", "registry"]
