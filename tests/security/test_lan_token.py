"""The LAN guard: the app serves loopback unless ``--lan``, and then only behind the token; wrong tokens of
the same and of other lengths are refused (the comparison is constant-time, so length is the only thing a
timing could tell, and it tells nothing here either).

The token tests run against the real app (``create_app`` with a token) through NiceGUI's simulated user;
where it binds is seen from outside, by a served process.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from nicegui.testing import User
from starlette.types import Message

from llamaburn.api.auth import COOKIE, TokenAuth
from llamaburn.engine.registry import load_registry
from llamaburn.server import create_app
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer
from tests.system import served_app

TOKEN = "correct-horse-battery-staple"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


# Loopback by default; the LAN only with the token guard


@pytest.mark.skipif(sys.platform != "linux", reason="needs 127.0.0.2, which Linux routes to loopback")
@pytest.mark.parametrize("lan", [False, True])
def test_the_app_serves_loopback_unless_lan_and_then_only_behind_the_token(lan: bool, tmp_path: Path) -> None:
    """127.0.0.2 stands for another machine: it reaches a server bound to every interface, never one bound
    to 127.0.0.1 (Linux routes all of 127/8 to loopback, so no network is needed to tell the two apart)."""
    args, ready = (["--lan"], "/login") if lan else ([], "/")
    with FakeServer() as ollama, served_app(Path(sys.executable), tmp_path, *args, ready=ready,
                                            LLAMABURN_TOKEN=TOKEN, OLLAMA_HOST=ollama.url) as url:
        elsewhere = url.replace("127.0.0.1", "127.0.0.2")
        if lan:
            assert httpx.get(f"{elsewhere}/api/history").status_code == 401
            assert httpx.get(f"{elsewhere}/api/history", headers=BEARER).json()["total"] == 0
            page = httpx.get(elsewhere)
            assert page.status_code == 303 and page.headers["location"] == "/login"
        else:
            assert httpx.get(f"{url}/api/history").json()["total"] == 0  # no token on loopback
            with pytest.raises(httpx.ConnectError):
                httpx.get(elsewhere)


# The LAN token: refused unless exactly right


@pytest.fixture
def guarded(user: User) -> httpx.AsyncClient:
    """A client of the app as ``--lan`` builds it: ``create_app`` with the token."""
    create_app(RunService(load_registry(), Store()), TOKEN)
    return user.http_client


def one_char_changed(token: str, index: int) -> str:
    return token[:index] + ("x" if token[index] != "x" else "y") + token[index + 1 :]


WRONG_TOKENS = {
    "same length, first char": one_char_changed(TOKEN, 0),
    "same length, middle char": one_char_changed(TOKEN, len(TOKEN) // 2),
    "same length, last char": one_char_changed(TOKEN, len(TOKEN) - 1),
    "same length, other case": TOKEN.upper(),
    "same length, non-ASCII": "é" * len(TOKEN),
    "empty": "",
    "a prefix": TOKEN[:-1],
    "one char longer": TOKEN + "x",
    "twice": TOKEN * 2,
    "very long": "a" * 10_000,
    "the session cookie's HMAC": hmac.new(TOKEN.encode(), b"llamaburn-session", hashlib.sha256).hexdigest(),
}


@pytest.mark.parametrize("wrong", list(WRONG_TOKENS.values()), ids=list(WRONG_TOKENS))
async def test_wrong_bearer_tokens_of_any_length_are_refused(guarded: httpx.AsyncClient, wrong: str) -> None:
    headers = {"Authorization": f"Bearer {wrong}".encode()}
    response = await guarded.get("/api/history", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "runs" not in response.text
    page = await guarded.get("/", headers=headers)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    login = await guarded.post("/login", data={"token": wrong})
    assert login.status_code in (401, 429) and COOKIE not in login.cookies


async def test_only_the_exact_token_or_its_session_cookie_opens(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/api/history", headers=BEARER)).json()["total"] == 0
    for refused in ({"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}, {"X-Token": TOKEN}):
        assert (await guarded.get("/api/history", headers=refused)).status_code == 401
    assert (await guarded.get(f"/api/history?token={TOKEN}")).status_code == 401
    session = hmac.new(TOKEN.encode(), b"llamaburn-session", hashlib.sha256).hexdigest()
    for cookie in (TOKEN, one_char_changed(session, 10), session[:-1], ""):
        guarded.cookies.set(COOKIE, cookie)
        assert (await guarded.get("/api/history")).status_code == 401
    guarded.cookies.clear()
    login = await guarded.post("/login", data={"token": TOKEN})
    assert login.status_code == 303 and login.cookies[COOKIE] == session and TOKEN not in login.headers["set-cookie"]
    assert (await guarded.get("/api/history")).json()["total"] == 0


async def ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the guard lets through: accepts any websocket (the middleware alone is under test here)."""
    await send({"type": "websocket.accept"})


async def test_a_websocket_is_closed_without_the_token_and_passes_with_it() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/_nicegui_ws/socket.io/", "headers": [], "query_string": b""}
    await TokenAuth(ok, TOKEN)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    authorized = {**scope, "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]}
    await TokenAuth(ok, TOKEN)(authorized, receive, send)
    assert sent == [{"type": "websocket.accept"}]
