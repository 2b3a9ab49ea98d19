"""The fault matrix's fixtures: the history database (SQLite, and PostgreSQL where the store is what the test
proves), the fake server (shared, or a test's own to stop and restart), the moments of a run, and each face
ready to run against it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from nicegui.testing import User

from llamaburn.engine.registry import Registry, load_registry
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL
from tests.faults.matrix import FORM, ON_POSTGRESQL
from tests.harness.api import Api, api_app, in_process
from tests.harness.moments import Moments, hook_moments
from tests.harness.page import Page, open_page
from tests.harness.servers import Server, refusing_port


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test on PostgreSQL too when it is one of ``ON_POSTGRESQL``; the others keep their ids."""
    if metafunc.function.__name__ in ON_POSTGRESQL:
        metafunc.parametrize("history", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def history(request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's history database, as ``LLAMABURN_DB_URL``: every face's ``Store()`` reads it, the CLI
    processes a test starts included. SQLite unless the test is parametrized onto PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return db_url
    from tests import postgres

    url = postgres.fresh_database(request.getfixturevalue("postgres_admin_url"))
    monkeypatch.setenv("LLAMABURN_DB_URL", url)
    return url


@pytest.fixture(scope="module")
def fake() -> Iterator[Server]:
    """One server for the module: starting and stopping one per test would cost more than the tests."""
    shared = Server().start()
    yield shared
    shared.stop()


@pytest.fixture
def server(fake: Server) -> Server:
    """The module's server, as new: no fault armed, its one model listed."""
    fake.arm()
    fake.models = [DEFAULT_MODEL]
    return fake


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Every server a test starts, stopped at its end (a restarted server is a new one on the same port)."""
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def own_server(servers: list[Server]) -> Server:
    """A server of this test's own, for tests that stop or restart it."""
    servers.append(Server().start())
    return servers[-1]


@pytest.fixture
def refused_port() -> Iterator[socket.socket]:
    sock = refusing_port()
    yield sock
    sock.close()


@pytest.fixture
def moments(monkeypatch: pytest.MonkeyPatch) -> Moments:
    return hook_moments(monkeypatch)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # never a real Ollama: every request names its server
    service = RunService(load_registry(), Store())
    async with in_process(api_app(service), service) as client:
        yield Api(client, service)


@pytest.fixture
async def app_service(server: Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunService]:
    monkeypatch.setenv("OLLAMA_HOST", server.url)  # the page's default backend: Ollama, at the fake server
    service = RunService(load_registry(), Store())
    yield service
    await service.aclose()


@pytest.fixture
async def page(user: User, app_service: RunService) -> Page:
    return await open_page(user, app_service, **FORM)
