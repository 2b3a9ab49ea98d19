"""The arrival clock: a chunk is timed when its bytes reached LlamaBurn, however late it is parsed.

A consumer that falls behind (here one that sleeps before each chunk; in a sweep, the other streams'
chunks parsed first) must not move the timestamps: TTFT, ITL and TPS are the server's and the network's,
not the client's queue. Real sockets throughout: an asyncio server in the test's loop, and the fake server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from llamaburn.backends.arrival import ArrivalBackend
from llamaburn.backends.base import Backend, ChatRequest, Chunk
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream
from llamaburn.testing import FakeServer, Script

GAP_S, LAG_S = 0.05, 0.12


async def test_each_read_is_one_arrival_timed_when_it_came_not_when_read() -> None:
    written: list[float] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for part in (b"one", b"two"):
            writer.write(part)
            await writer.drain()
            written.append(time.perf_counter())
            await asyncio.sleep(0.03)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = await ArrivalBackend().connect_tcp("127.0.0.1", port, timeout=5)
    try:
        await asyncio.sleep(0.1)  # both parts have come and wait in the buffer
        first, first_at = await stream.read(65536), stream.arrived_at
        second, second_at = await stream.read(65536), stream.arrived_at
    finally:
        await stream.aclose()
        server.close()
    assert (first, second) == (b"one", b"two")  # one arrival a read, though both were there
    assert first_at is not None and second_at is not None
    assert 0 <= first_at - written[0] < 0.005
    assert 0 <= second_at - written[1] < 0.005


async def late(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """The chunks, each taken ``LAG_S`` after asking: a consumer slower than the server."""
    async for chunk in chunks:
        await asyncio.sleep(LAG_S)
        yield chunk


@pytest.mark.parametrize("kind", [OllamaBackend, OpenAIBackend])
async def test_a_late_consumer_times_the_chunks_at_their_arrival(kind: type[Backend]) -> None:
    script = Script(tokens=5, ttft_s=GAP_S, tokens_per_s=1 / GAP_S)
    with FakeServer(script) as server:
        backend = kind(url=server.url)
        try:
            request = ChatRequest(model="llama3.2:1b", prompt="hi")
            metrics = await measure_stream(late(backend.stream_chat(request)), lambda text: None)
        finally:
            await backend.aclose()
    # Timed as consumed, TTFT would be over LAG_S and every gap LAG_S: the fake's clock says GAP_S.
    assert GAP_S * 1000 <= metrics["ttft_ms"] < GAP_S * 1000 + 10
    assert abs(metrics["itl_ms_p50"] - GAP_S * 1000) < 5
    assert abs(metrics["tps"] - 1 / GAP_S) / (1 / GAP_S) < 0.05


def test_the_clock_runs_on_uvloop_too() -> None:
    """uvicorn serves the app on uvloop where it is installed (NiceGUI's uvicorn[standard] installs it), and
    the app's runs then stream on that loop: its transports are not ``asyncio.Transport`` subclasses."""
    uvloop = pytest.importorskip("uvloop")
    script = Script(tokens=5, ttft_s=GAP_S, tokens_per_s=1 / GAP_S)

    async def measured() -> dict[str, float]:
        backend = OpenAIBackend(url=server.url)
        try:
            request = ChatRequest(model="llama3.2:1b", prompt="hi")
            return await measure_stream(late(backend.stream_chat(request)), lambda text: None)
        finally:
            await backend.aclose()

    with FakeServer(script) as server:
        metrics = uvloop.run(measured())
    assert GAP_S * 1000 <= metrics["ttft_ms"] < GAP_S * 1000 + 10
    assert abs(metrics["tps"] - 1 / GAP_S) / (1 / GAP_S) < 0.05
