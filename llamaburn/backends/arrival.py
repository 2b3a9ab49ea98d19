"""The arrival clock: when a response's bytes reached LlamaBurn, not when it had finished parsing them.

A chunk used to be timed after httpx, h11 and the backend had parsed it. One stream is parsed at once, but a
sweep point's streams are paced alike, so their chunks arrive together and are parsed one after another: at
32 streams the last of a burst was timed about 6 ms after it came (0.18 ms of parsing each), which is a TTFT
error of that size and, when the first and last tokens land at different places in their bursts, a TPS
error of about 1 %, all of it the client's queue, not the server's timing.

``ArrivalStream`` is httpcore's network stream on an asyncio ``Protocol``: ``data_received`` reads the
clock when the event loop takes the bytes off the socket, which for a burst happens in one pass over the
ready sockets, before any of them is parsed. Each ``read`` hands h11 the bytes of one arrival and remembers
when they came (``arrived_at``), and ``arrival(response)`` gives that to the backend as it yields the chunk
those bytes completed. It also spares every read anyio's cancel scope and the pause and resume of reading (two
``epoll_ctl`` calls) that httpcore's default backend paid per chunk.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import httpcore
import httpx

HIGH_WATER = 256 * 1024
"""Bytes buffered unread before the socket stops being read (a stalled consumer must not fill memory)."""


class ArrivalProtocol(asyncio.Protocol):
    """A connection's bytes as they arrive, each run of them with the clock reading of its arrival."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.segments: deque[tuple[int, float]] = deque()  # (bytes received up to its end, its arrival)
        self.received = 0
        self.consumed = 0
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None  # set while the transport's write buffer is full
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports (uvicorn's loop where it is installed) implement
        # asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        self.buffer += data
        self.received += len(data)
        self.segments.append((self.received, arrived))
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self, max_bytes: int) -> tuple[bytes, float]:
        """Up to ``max_bytes`` of the oldest arrival's bytes, and when they arrived. Never more than one
        arrival's: a consumer that fell behind then reads each at its own time, not all at the newest."""
        end, arrived = self.segments[0]
        size = min(max_bytes, end - self.consumed)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        self.consumed += size
        if self.consumed == end:
            self.segments.popleft()
        if self.paused and len(self.buffer) < HIGH_WATER // 2 and self.transport is not None:
            self.transport.resume_reading()
            self.paused = False
        return data, arrived


async def _within(future: asyncio.Future[Any], timeout: float | None, timeout_error: type[Exception]) -> None:
    try:
        async with asyncio.timeout(timeout):
            await future
    except TimeoutError:
        raise timeout_error(f"no progress within {timeout:g} s") from None


class ArrivalStream(httpcore.AsyncNetworkStream):
    """One connection, for httpcore; ``arrived_at`` is the arrival of the newest byte a read returned."""

    def __init__(self, transport: asyncio.Transport, protocol: ArrivalProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.arrived_at: float | None = None
        self.sent_at: float | None = None
        """When the last write, a request's last bytes, began: just before they were handed to the socket."""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                await _within(protocol.waiter, timeout, httpcore.ReadTimeout)
            finally:
                protocol.waiter = None
        if protocol.buffer:
            data, self.arrived_at = protocol.take(max_bytes)
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError(str(self._protocol.error or "the connection is closed"))
        # Read before the bytes go: the send releases the GIL, and a server thread in this process (a test's)
        # may take it for milliseconds and start its own clock before this one would be read after.
        self.sent_at = time.perf_counter()
        self._transport.write(buffer)
        if self._protocol.writable is not None:
            await _within(self._protocol.writable, timeout, httpcore.WriteTimeout)
            if self._transport.is_closing():
                raise httpcore.WriteError(str(self._protocol.error or "the connection closed while writing"))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> ArrivalStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from None
        return ArrivalStream(cast(asyncio.Transport, transport), self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # on an idle connection: the server closed it, or sent what nobody asked for
            sock = self._transport.get_extra_info("socket")
            return self._protocol.eof or bool(self._protocol.buffer) or bool(select.select([sock], [], [], 0)[0])
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return self._transport.get_extra_info(names[info]) if info in names else None


class ArrivalBackend(httpcore.AsyncNetworkBackend):
    """httpcore's TCP connections as ``ArrivalStream``s, on the running asyncio loop."""

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> ArrivalStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    ArrivalProtocol, host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout:g} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return ArrivalStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _stream(response: httpx.Response) -> ArrivalStream | None:
    stream = response.extensions.get("network_stream")
    return stream if isinstance(stream, ArrivalStream) else None


def arrival(response: httpx.Response) -> float | None:
    """When the newest byte read of ``response`` arrived (``time.perf_counter()``), or ``None`` when it did
    not come through an ``ArrivalStream`` (a test's mock transport)."""
    stream = _stream(response)
    return None if stream is None else stream.arrived_at


def sent(response: httpx.Response) -> float | None:
    """When the request of ``response`` was handed to the socket, its last byte written; ``None`` as for
    ``arrival``. A request waits in the client before that (the pool, h11, other streams' turns in the loop),
    and that wait is the client's, so the clock starts here rather than when the send was asked for."""
    stream = _stream(response)
    return None if stream is None else stream.sent_at
