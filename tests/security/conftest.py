"""The app under test is the real one: ``llamaburn.server.create_app`` on NiceGUI's app, driven through
NiceGUI's simulated ``User`` (its HTTP client reaches the same ASGI app a browser would)."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing import User

from llamaburn.engine.registry import load_registry
from llamaburn.server import create_app
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store


@pytest.fixture
def api(user: User) -> httpx.AsyncClient:
    """A client of the app ``create_app`` builds, on loopback (no token); the app closes its service."""
    create_app(RunService(load_registry(), Store()))
    return user.http_client
