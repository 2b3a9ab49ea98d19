"""A TCP proxy that hangs up on a reused keep-alive connection, as llama-server sometimes does.

llama-server (cpp-httplib) can close a connection after a streamed answer while its headers still
announce ``Keep-Alive``; the next request a client sends on it gets no byte back. The fakes run on uvicorn,
which never does that, so this proxy sits in front of one and does it on demand: the next ``hangups``
requests that arrive on an already used connection are never forwarded, and that connection is closed
after ``hangup_delay_s`` (time a client must not count in its measurement). With ``reused_only=False`` it
hangs up on fresh connections too: a server that is really gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ")


class HangupProxy:
    """Use as ``with HangupProxy(fake.url) as proxy: OpenAIBackend(proxy.url)``; set ``proxy.hangups``.

    ``connections`` counts the client connections accepted; ``hung_up`` the requests dropped unanswered.
    """

    def __init__(
        self, upstream: str, hangups: int = 0, hangup_delay_s: float = 0.0, *, reused_only: bool = True
    ) -> None:
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.hangups = hangups
        self.hangup_delay_s = hangup_delay_s
        self.reused_only = reused_only  # False: hang up on a fresh connection's first request too
        self.connections = 0
        self.hung_up = 0
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> HangupProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        """Stop listening and end the connections still open, so no task is left pending on a dead loop."""
        if self._server is not None:
            self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self) -> None:
        self._socket.listen()
        self._server = await asyncio.start_server(self._client, sock=self._socket)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        backward = asyncio.create_task(self._pipe(upstream_reader, writer))
        requests = 0
        try:
            while data := await reader.read(65536):
                if data.startswith(METHODS):
                    requests += 1
                    if self.hangups > 0 and (requests > 1 or not self.reused_only):
                        self.hangups -= 1
                        self.hung_up += 1
                        await asyncio.sleep(self.hangup_delay_s)
                        return
                upstream_writer.write(data)
                await upstream_writer.drain()
        except ConnectionError:
            pass
        finally:
            backward.cancel()
            for stream in (writer, upstream_writer):
                stream.close()
                with contextlib.suppress(ConnectionError):
                    await stream.wait_closed()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

