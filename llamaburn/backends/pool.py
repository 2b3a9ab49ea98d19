"""A backend's keep-alive pool: httpcore's, without the race that made a sweep's streams wait for each other.

httpcore's pool hands an idle HTTP/1.1 connection to a request, but the connection stays ``IDLE`` until that
request's task runs and marks it active. A request arriving in between is handed the same connection, loses
it to the first, and goes round the pool again, as often as it meets another claimed one (encode/httpcore
#1110, and the review of its fix, #1111). With a sweep point's streams ending and starting together, 157 of
160 requests at 32 streams went round at least once, some 17 times, and waited up to 100 ms for a connection
while idle ones were there: all of it inside their TTFT, since the clock starts before the request is sent.

``ClaimingPool`` keeps a connection that is claimed but not yet started out of every assignment pass, so
each request gets a connection nobody else holds. httpcore pins the pool's internals it relies on
(``_requests``, ``_connections``, ``AsyncPoolRequest.connection``) within 1.0.x; ``pyproject.toml`` keeps it
there, and ``tests/backends/test_pool.py`` fails if a newer httpcore changes them.
"""

from __future__ import annotations

import httpcore
import httpx

from llamaburn.backends.arrival import ArrivalBackend


class ClaimingPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, where a connection handed to a request is that request's until it starts on it."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        """httpcore's pass, with the claimed idle connections hidden from it and counted against its limits,
        so it neither hands them out again nor closes them as surplus or to make room."""
        claimed = {id(request.connection) for request in self._requests if request.connection is not None}
        hidden = [connection for connection in self._connections if id(connection) in claimed and connection.is_idle()]
        if not hidden:
            return super()._assign_requests_to_connections()
        for connection in hidden:
            self._connections.remove(connection)
        self._max_connections -= len(hidden)
        self._max_keepalive_connections -= len(hidden)
        try:
            return super()._assign_requests_to_connections()
        finally:
            self._max_connections += len(hidden)
            self._max_keepalive_connections += len(hidden)
            self._connections.extend(hidden)


class Transport(httpx.AsyncHTTPTransport):
    """httpx's transport on a ``ClaimingPool`` over ``ArrivalBackend`` connections (``arrival.py``), with the
    pool settings httpx would give it for ``limits``.

    httpx builds its pool in its constructor and names no hook for another, so the pool is replaced there;
    a proxy set in the environment still goes through httpx's own proxy transports, as before.
    """

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = ClaimingPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=ArrivalBackend(),
        )
