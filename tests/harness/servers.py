"""The fake model server of ``llamaburn.testing``, scripted per chat request and restartable on its port, as
the fault matrix needs it: a fault armed for iteration 2, a server that goes away between two iterations and
comes back, a port that refuses connections until a server starts on it at last."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from llamaburn.engine.runner import Run
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Received, Script

CHAT_PATHS = ("/api/chat", "/v1/chat/completions")
NORMAL = Script(tokens=5)  # what every chat request gets unless a test arms another script
ANSWER = "t0 t1 t2 t3 t4 "  # the text NORMAL streams


class Server(FakeServer):
    """``FakeServer`` whose chat requests follow a plan (``arm``) and that can stop and come back on one port.

    Its socket has ``SO_REUSEADDR``, so a server started on the port of one just stopped can bind it while
    the old connections sit in TIME_WAIT, as a restarted Ollama does.
    """

    def __init__(self, port: int = 0, models: tuple[str, ...] = (DEFAULT_MODEL,)) -> None:
        super().__init__(NORMAL, models)
        self._socket.close()
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)
        self.plan: list[Script] = []
        self._armed_at = 0
        self.running = False

    @property
    def chats(self) -> list[Received]:
        """The chat requests since the last ``arm``."""
        return [r for r in self.requests if r.path in CHAT_PATHS][self._armed_at :]

    def arm(self, *scripts: Script) -> None:
        """The next chat requests follow ``scripts`` in turn; every one after them is ``NORMAL``."""
        self.plan, self._armed_at = list(scripts), len([r for r in self.requests if r.path in CHAT_PATHS])

    async def _record(self, request: Any) -> Any:
        body = await super()._record(request)
        if request.url.path in CHAT_PATHS:
            turn = len(self.chats) - 1
            self.script = self.plan[turn] if 0 <= turn < len(self.plan) else NORMAL
        return body

    def start(self) -> Server:
        super().start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            super().stop()
            self.running = False
        self._socket.close()


def restart(servers: list[Server], down: bool = False) -> Callable[[Run], None]:
    """An action that stops the current server and, unless ``down``, starts a new one on its port."""

    def act(_run: Run) -> None:
        old = servers[-1]
        old.stop()
        if not down:
            servers.append(Server(old.port).start())

    return act


def come_back(servers: list[Server]) -> Server:
    """A new server on the port of the last one, which went down."""
    servers.append(Server(servers[-1].port).start())
    return servers[-1]


def refusing_port() -> socket.socket:
    """A loopback port that refuses connections: bound, never listening, so no one else takes it meanwhile."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def server_on(servers: list[Server], reserved: socket.socket) -> Server:
    """The server starting, at last, on a port that refused connections until now."""
    port = reserved.getsockname()[1]
    reserved.close()
    servers.append(Server(port).start())
    return servers[-1]
