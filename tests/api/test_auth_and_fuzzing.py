"""With a token, every endpoint wants it; and no generated input (schemathesis, from the live app's
OpenAPI) makes any endpoint fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings

from llamaburn.api import HEARTBEAT_S, router
from llamaburn.api.auth import TokenAuth
from llamaburn.service.runs import RunService
from llamaburn.testing import FakeServer, Script
from tests.harness.api import LiveApp, api_app

# Auth


def api_requests() -> list[tuple[str, str]]:
    """Every (method, path) the router serves, with placeholder path parameters."""
    calls = []
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            path = route.path.replace("{run_id}", "nope").replace("{model_id:path}", "m")
            calls += [(method, path) for method in sorted(route.methods)]
    return calls


async def test_with_a_token_every_endpoint_needs_it(app: FastAPI, service: RunService) -> None:
    calls = api_requests()
    assert len(calls) == 21  # 13, then report, check, hosts, the sweep's four and the sweeps
    transport = httpx.ASGITransport(app=TokenAuth(app, "s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://llamaburn.test") as c:
        for method, path in calls:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                response = await c.request(method, path, headers=headers, json={"iterations": 0})
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"] == "Bearer"
            response = await c.request(method, path, headers={"Authorization": "Bearer s3cret"}, json={"iterations": 0})
            assert response.status_code in (200, 404, 422, 503), (method, path, response.text)
        assert (await c.get("/api/plugins", headers={"Authorization": "Bearer s3cret"})).status_code == 200
    await service.aclose()


# Property tests: no generated input makes any endpoint fail


SCHEMATHESIS_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # 502 (the model server is unreachable: a generated URL) and 503 (no backend) are answers, not crashes.
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]},
            # A schema-valid body can still name a model or a prompt the engine refuses: 422 is right then.
            "positive_data_acceptance": {"enabled": False},
            # Starlette's 405 lists only the methods of the first route for a path (GET /api/history, not DELETE).
            "allow_header_conformance": {"enabled": False},
        }
    }
)


@pytest.fixture
def api_schema(service: RunService, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The live app, its default backend a fake Ollama whose chat always fails, so runs end at once."""
    with FakeServer(Script(status=500)) as server, LiveApp(api_app(service)) as app:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield schemathesis.openapi.from_url(f"{app.url}/openapi.json", config=SCHEMATHESIS_CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case: Any) -> None:
    case.call_and_validate(timeout=HEARTBEAT_S)
