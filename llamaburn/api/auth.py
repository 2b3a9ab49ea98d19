"""The access token that guards a server shared on the LAN (``llamaburn --lan``).

Pages need a session cookie, set by the login form; API calls need ``Authorization: Bearer <token>``.
The cookie holds an HMAC of the token, never the token itself. Comparisons are constant-time, and
failed logins from one address are rate-limited. On loopback (no ``--lan``) this middleware is not
installed at all.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections import defaultdict, deque
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "llamaburn_session"
LOGIN_PATH = "/login"
PUBLIC_PREFIXES = ("/_nicegui/", "/favicon")  # static assets the login page itself needs
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0

LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>LlamaBurn: sign in</title>
<style>body{{font-family:system-ui,sans-serif;display:grid;place-items:center;height:90vh}}
form{{display:flex;flex-direction:column;gap:.6em;min-width:18em}}input,button{{font-size:1em;padding:.4em}}
.error{{color:#b00020}}</style></head><body><form method="post" action="/login">
<h2>LlamaBurn</h2><label for="token">Access token (printed where LlamaBurn was started)</label>
<input id="token" name="token" type="password" autofocus required><p class="error">{error}</p>
<button type="submit">Sign in</button></form></body></html>"""


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenAuth:
    """ASGI middleware: everything but the login page and static assets needs the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.session = hmac.new(token.encode(), b"llamaburn-session", hashlib.sha256).hexdigest()
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["type"] == "http" and path == LOGIN_PATH:
            response = await self._login(Request(scope, receive))
        elif path.startswith(PUBLIC_PREFIXES) or self._authorized(HTTPConnection(scope)):
            await self.app(scope, receive, send)
            return
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        elif path.startswith("/api"):
            response = JSONResponse(
                {"detail": "missing or wrong access token: send Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = RedirectResponse(LOGIN_PATH, status_code=303)
        await response(scope, receive, send)

    def _authorized(self, connection: HTTPConnection) -> bool:
        """The bearer token or the session cookie. ``HTTPConnection``, not ``Request``: it serves websocket
        scopes too (NiceGUI's socket.io), where ``Request`` asserts an HTTP scope."""
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(
            header[7:].strip().encode(), self.token.encode()
        ):
            return True
        return hmac.compare_digest(connection.cookies.get(COOKIE, "").encode(), self.session.encode())

    async def _login(self, request: Request) -> Response:
        if request.method != "POST":
            return HTMLResponse(LOGIN_PAGE.format(error=""))
        client = request.client.host if request.client else "?"
        failures = self._failures[client]
        now = time.monotonic()
        while failures and now - failures[0] > FAILURE_WINDOW_S:
            failures.popleft()
        if len(failures) >= MAX_FAILURES:
            wait = int(FAILURE_WINDOW_S - (now - failures[0])) + 1
            return HTMLResponse(
                LOGIN_PAGE.format(error=html.escape(f"Too many attempts: wait {wait} s.")),
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        body = (await request.body()).decode(errors="replace")
        given = (parse_qs(body).get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            failures.append(now)
            return HTMLResponse(LOGIN_PAGE.format(error="Wrong token."), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, self.session, httponly=True, samesite="strict")
        return response
