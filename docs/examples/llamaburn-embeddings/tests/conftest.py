"""Fixtures: a fake embeddings server on a loopback port, and LlamaBurn backends pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fake_embeddings import FakeEmbeddingsServer
from llamaburn.plugin import Backend
from llamaburn.registry import load_registry


@pytest.fixture
def fake() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer() as server:
        yield server


@pytest.fixture(params=["ollama", "openai"])
async def backend(request: pytest.FixtureRequest, fake: FakeEmbeddingsServer) -> AsyncIterator[Backend]:
    """Each test that takes ``backend`` runs once per protocol, through LlamaBurn's own backend classes."""
    opened = load_registry().backend(request.param)(fake.url)
    async with opened:
        yield opened
