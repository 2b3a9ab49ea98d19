"""One event loop and one backend per protocol for each module: an httpx client per example would cost more
than the example itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from tests.properties.streams import URL


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="module")
def backends(runner: asyncio.Runner) -> Iterator[dict[str, Backend]]:
    made: dict[str, Backend] = {"ollama": OllamaBackend(URL), "openai": OpenAIBackend(URL)}
    yield made
    for backend in made.values():
        runner.run(backend.aclose())
