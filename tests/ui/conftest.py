"""The UI tests' fixtures: the fake Ollama twice over (a real loopback socket, and respx at the httpx layer:
the same protocol fixture, in-process), and the page open on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from nicegui.testing import User

from llamaburn.engine.registry import load_registry
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.page import Page
from tests.ui.app import OTHER_MODEL, CountPlugin, SoonPlugin, open_app


@pytest.fixture(params=["socket", "respx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    server = FakeServer(Script(tokens=20, ttft_s=0.01, tokens_per_s=400), models=[DEFAULT_MODEL, OTHER_MODEL])
    if request.param == "socket":
        with server:
            yield server
        return
    with respx.mock(assert_all_called=False) as router:  # the server is never started: no socket listens
        server.respx_routes(router)
        router.route().mock(side_effect=httpx.ConnectError)  # nothing else listens: Hugging Face, other ports
        yield server


@pytest.fixture
async def page(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Page]:
    opened = await open_app(user, fake, monkeypatch, load_registry())
    yield opened
    await opened.service.aclose()


@pytest.fixture
async def count_page(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Page]:
    """The page with a second runnable tab, Count, and a Coming Soon one, Holo, registered as third-party
    plugins are."""
    registry = load_registry(extra=[("count", CountPlugin()), ("soon", SoonPlugin())])
    opened = await open_app(user, fake, monkeypatch, registry)
    yield opened
    await opened.service.aclose()
