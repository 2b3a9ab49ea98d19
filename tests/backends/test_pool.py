"""A backend's pool gives each of a sweep point's simultaneous requests a connection nobody else holds.

httpcore's own pool hands a claimed-but-not-started connection to the next request too (encode/httpcore
#1110); the loser goes round the pool again, waiting behind the others' chunks, inside its TTFT. Counted here
by the pool's own retry (``AsyncPoolRequest.clear_connection``, what a request that lost its connection
calls), with real streams on real sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpcore._async.connection_pool as httpcore_pool
import httpx
import pytest

from llamaburn.backends.base import KEEPALIVE_CONNECTIONS
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.testing import FakeServer, Script

STREAMS, ROUNDS = 32, 3
BODY = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a request lost the connection it was handed and went round the pool again."""
    count = [0]
    clear: Callable[[httpcore_pool.AsyncPoolRequest], None] = httpcore_pool.AsyncPoolRequest.clear_connection

    def counted(request: httpcore_pool.AsyncPoolRequest) -> None:
        count[0] += 1
        clear(request)

    monkeypatch.setattr(httpcore_pool.AsyncPoolRequest, "clear_connection", counted)
    return count


async def streams(client: httpx.AsyncClient) -> None:
    """``STREAMS`` streams of ``ROUNDS`` answers each, every answer read to its end as the backends do."""

    async def stream() -> None:
        for _ in range(ROUNDS):
            async with client.stream("POST", "/api/chat", json=BODY) as response:
                async for _line in response.aiter_lines():
                    pass

    await asyncio.gather(*(stream() for _ in range(STREAMS)))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=20, ttft_s=0.01, tokens_per_s=400)) as fake:
        yield fake


async def test_no_request_loses_its_connection_to_another(server: FakeServer, retries: list[int]) -> None:
    backend = OllamaBackend(url=server.url)
    try:
        await streams(backend.client)
    finally:
        await backend.aclose()
    assert retries[0] == 0
    assert server.connections == STREAMS  # one per stream, each kept alive for its next answers


async def test_httpcores_own_pool_has_the_race_this_pool_removes(server: FakeServer, retries: list[int]) -> None:
    """The control: the same streams on httpx's default pool do lose connections (when httpcore fixes #1110,
    this fails, and ``backends/pool.py`` can go)."""
    limits = httpx.Limits(max_keepalive_connections=KEEPALIVE_CONNECTIONS)
    async with httpx.AsyncClient(base_url=server.url, limits=limits) as client:
        for _ in range(5):
            await streams(client)
            if retries[0]:
                break
    assert retries[0] > 0
