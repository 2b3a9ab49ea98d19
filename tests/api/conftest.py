"""The API tests' fixtures: the API face for a fresh service, reached in-process or live under uvicorn,
against the fake model server of llamaburn.testing; never a real Ollama or the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from llamaburn.engine.registry import load_registry
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer, Script
from tests.api.bodies import ANSWER
from tests.harness.api import LiveApp, api_app, in_process


@pytest.fixture(autouse=True)
def no_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real Ollama or start the embedded server: the default backend is then missing."""
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr("llamaburn.backends.embedded.embedded_installed", lambda: False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # model info asks Hugging Face: refused at once


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    # paced: tokens sent at once arrive in one read, share one arrival time, and have no TPS
    with FakeServer(Script(tokens=ANSWER, tokens_per_s=200)) as server:
        yield server


@pytest.fixture
def service() -> RunService:
    return RunService(load_registry(), Store())


@pytest.fixture
def app(service: RunService) -> FastAPI:
    return api_app(service)


@pytest.fixture
async def client(app: FastAPI, service: RunService) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, service) as c:
        yield c


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    with LiveApp(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10)) as c:
            yield c
