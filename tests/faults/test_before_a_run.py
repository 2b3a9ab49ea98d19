"""Trouble found before a run can begin, on every face: connection refused, a name that does not resolve,
a model the server does not have. Nothing is measured, so nothing is stored, and the next run succeeds."""

from __future__ import annotations

import socket

import pytest

from llamaburn.engine.registry import Registry
from llamaburn.errors import BackendError, ModelNotFoundError
from llamaburn.service.assembly import resolve_model
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL
from tests.faults.matrix import (
    BACKENDS,
    DNS_FAILURE_URL,
    LABELS,
    PROTOCOLS,
    api_succeeds,
    bench_args,
    cli_succeeds,
    measure,
    not_reachable,
    page_succeeds,
    run_body,
)
from tests.harness.api import Api
from tests.harness.cli import assert_one_error_line, cli
from tests.harness.moments import until
from tests.harness.page import Page
from tests.harness.servers import Server, server_on

# Connection refused and DNS failure, before a run can begin: nothing is measured, so nothing is stored


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_engine(
    protocol: str, refused_port: socket.socket, servers: list[Server], store: Store, registry: Registry
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    backend = BACKENDS[protocol](url)
    try:
        with pytest.raises(BackendError, match="is not reachable") as raised:
            await measure(registry, backend, store)
        assert not_reachable(protocol, url) in str(raised.value)
        assert store.count_runs() == 0
        server_on(servers, refused_port)  # the server comes up: the same backend object now works
        assert (await measure(registry, backend, store)).status == "completed"
    finally:
        await backend.aclose()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connection_refused_cli(
    protocol: str, refused_port: socket.socket, servers: list[Server], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    code, result, err = cli(capsys, *bench_args(protocol, url))
    assert code == 1 and result is None
    assert_one_error_line(err, not_reachable(protocol, url))
    assert Store().count_runs() == 0
    server_on(servers, refused_port)
    cli_succeeds(capsys, protocol, url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_api(
    protocol: str, refused_port: socket.socket, servers: list[Server], api: Api
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    response = await api.client.post("/api/benchmark", json=run_body(protocol, url))
    assert response.status_code == 502 and not_reachable(protocol, url) in response.json()["detail"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    assert api.service.runs == {}  # no run, so no stream to follow
    server_on(servers, refused_port)
    await api_succeeds(api, protocol, url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_refused_ui(
    protocol: str, refused_port: socket.socket, servers: list[Server], page: Page
) -> None:
    url = f"http://127.0.0.1:{refused_port.getsockname()[1]}"
    await page.connect(protocol, url, connected=False)
    assert page.user.notify.contains(not_reachable(protocol, url))
    assert any(line.startswith("error: ") and not_reachable(protocol, url) in line for line in page.log_lines())
    assert page.service.store.count_runs() == 0
    server_on(servers, refused_port)
    page.user.find(marker="backend-url").trigger("keydown.enter")  # the user tries again
    await until(lambda: page.text("backend-status").startswith("connected"))
    await page_succeeds(page)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_engine(protocol: str, server: Server, store: Store, registry: Registry) -> None:
    backend = BACKENDS[protocol](DNS_FAILURE_URL)
    try:
        with pytest.raises(BackendError, match="is not reachable") as raised:
            await measure(registry, backend, store)
        assert not_reachable(protocol, DNS_FAILURE_URL) in str(raised.value)
        assert store.count_runs() == 0
    finally:
        await backend.aclose()
    async with BACKENDS[protocol](server.url) as working:
        assert (await measure(registry, working, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dns_failure_cli(protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, result, err = cli(capsys, *bench_args(protocol, DNS_FAILURE_URL))
    assert code == 1 and result is None
    assert_one_error_line(err, not_reachable(protocol, DNS_FAILURE_URL))
    assert Store().count_runs() == 0
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_api(protocol: str, server: Server, api: Api) -> None:
    response = await api.client.post("/api/benchmark", json=run_body(protocol, DNS_FAILURE_URL))
    assert response.status_code == 502
    assert not_reachable(protocol, DNS_FAILURE_URL) in response.json()["detail"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dns_failure_ui(protocol: str, server: Server, page: Page) -> None:
    await page.connect(protocol, DNS_FAILURE_URL, connected=False)
    assert page.user.notify.contains(not_reachable(protocol, DNS_FAILURE_URL))
    assert any(not_reachable(protocol, DNS_FAILURE_URL) in line for line in page.log_lines())
    await page.connect(protocol, server.url)
    await page_succeeds(page)


# An unknown model, found before the run begins (the mid-run 404 is in FAULTS)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_model_at_start_engine(protocol: str, server: Server, store: Store) -> None:
    async with BACKENDS[protocol](server.url) as backend:
        with pytest.raises(ModelNotFoundError, match=f"model 'gpt-9' not found on {LABELS[protocol]}"):
            await resolve_model(backend, "gpt-9")
        assert store.count_runs() == 0 and server.chats == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_model_at_start_cli(protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    args = bench_args(protocol, server.url)
    args[args.index(DEFAULT_MODEL)] = "gpt-9"
    code, result, err = cli(capsys, *args)
    assert code == 1 and result is None
    assert_one_error_line(err, "model 'gpt-9' not found on", f"available: {DEFAULT_MODEL}")
    assert Store().count_runs() == 0
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unknown_model_at_start_api(protocol: str, server: Server, api: Api) -> None:
    response = await api.client.post("/api/benchmark", json=run_body(protocol, server.url, model_id="gpt-9"))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "model_id"] and "model 'gpt-9' not found" in error["msg"]
    assert (await api.client.get("/api/history")).json()["total"] == 0
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_model_removed_after_listing_ui(protocol: str, server: Server, page: Page) -> None:
    await page.connect(protocol, server.url)
    server.models = ["qwen3:4b"]  # `ollama rm` after the page listed the models
    page.user.find(marker="run-button").click()
    message = f"model '{DEFAULT_MODEL}' not found on {LABELS[protocol]}"
    await until(lambda: page.user.notify.contains(message))
    assert any(line.startswith("error: ") and message in line for line in page.log_lines())
    assert page.service.runs == {} and page.service.store.count_runs() == 0
    assert page.element("run-button").enabled
    server.models = [DEFAULT_MODEL]
    await page_succeeds(page)
