"""The built-in backends, registered through the same hook a third-party backend would implement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llamaburn.backends.embedded import EmbeddedBackend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.backends.whisper_cpp import WhisperCppBackend
from llamaburn.hookspecs import hookimpl


@hookimpl
def register_backends(register: Callable[[Any], None]) -> None:
    register(OllamaBackend)
    register(OpenAIBackend)
    register(EmbeddedBackend)
    register(WhisperCppBackend)
