"""Cancel during the warmup, during an iteration and between two iterations, on every face (and the real
Cancel button and cancel endpoint once each): the run ends ``cancelled`` keeping what it completed."""

from __future__ import annotations

import pytest

from llamaburn.engine.events import Token
from llamaburn.engine.registry import Registry
from llamaburn.storage.store import Store
from tests.faults.matrix import (
    BACKENDS,
    KEPT_BEFORE_ITERATION_2,
    PACED,
    PROTOCOLS,
    SLOW,
    api_start,
    api_succeeds,
    assert_stored,
    assert_ui_cancelled,
    bench_args,
    cli_succeeds,
    measure,
    page_succeeds,
)
from tests.harness.api import Api, follow, kept, stored
from tests.harness.cli import cli
from tests.harness.moments import Moments, cancel, until
from tests.harness.page import Page
from tests.harness.servers import Server

# Cancel: during the warmup, during an iteration, and between two iterations

CANCELS = {  # where the cancel lands -> what history keeps, and how many chat requests the server saw
    "warmup": ([], 1),
    "iteration": (KEPT_BEFORE_ITERATION_2, 3),
    "between": (KEPT_BEFORE_ITERATION_2, 2),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_engine(
    moment: str, protocol: str, server: Server, moments: Moments, store: Store, registry: Registry
) -> None:
    iterations, chats = CANCELS[moment]
    async with BACKENDS[protocol](server.url) as backend:
        server.arm(PACED, PACED, PACED)
        moments.at(moment, cancel)
        run = await measure(registry, backend, store)
        assert run.status == "cancelled" and run.error is None and run.bus.history[-1].type == "cancelled"
        assert_stored(store, run.id, "cancelled", iterations)
        assert len(server.chats) == chats
        assert (await measure(registry, backend, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
def test_cancel_cli(
    moment: str, protocol: str, server: Server, moments: Moments, capsys: pytest.CaptureFixture[str]
) -> None:
    iterations, chats = CANCELS[moment]
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    code, result, err = cli(capsys, *bench_args(protocol, server.url))
    assert code == 130 and err == "" and result is not None and result["status"] == "cancelled"
    assert_stored(Store(), result["run_id"], "cancelled", iterations)
    assert len(server.chats) == chats
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_sse(moment: str, protocol: str, server: Server, moments: Moments, api: Api) -> None:
    iterations, chats = CANCELS[moment]
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    run_id = await api_start(api, protocol, server.url)
    events = await follow(api.client, run_id)
    assert events[-1] == ("cancelled", {"type": "cancelled"})
    record = await stored(api.client, run_id)
    assert (record["status"], record["error"]) == ("cancelled", None) and kept(record) == iterations
    assert len(server.chats) == chats
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("moment", list(CANCELS))
async def test_cancel_ui(moment: str, protocol: str, server: Server, moments: Moments, page: Page) -> None:
    iterations, chats = CANCELS[moment]
    await page.connect(protocol, server.url)
    server.arm(PACED, PACED, PACED)
    moments.at(moment, cancel)
    run = await page.run()
    assert_ui_cancelled(page)
    await page.history_shows(run)
    assert_stored(page.service.store, run.id, "cancelled", iterations)
    assert len(server.chats) == chats
    await page_succeeds(page)


async def test_cancel_button_during_warmup_ui(server: Server, page: Page) -> None:
    """The real Cancel button, pressed while the warmup streams (a 1 s request): nothing measured, nothing kept."""
    server.arm(SLOW)
    run = await page.run(wait=False)
    await until(lambda: page.text("live-progress") == "Warmup 1/1" and page.text("live-text") != "")
    page.user.find(marker="cancel-button").click()
    await page.ended(run)
    assert_ui_cancelled(page)
    assert_stored(page.service.store, run.id, "cancelled", [])
    assert len(server.chats) == 1
    await page_succeeds(page)


async def test_cancel_endpoint_during_warmup_sse(server: Server, api: Api) -> None:
    """The real cancel endpoint, called while the warmup streams: the stream ends with ``cancelled``."""
    server.arm(SLOW)
    run_id = await api_start(api, "ollama", server.url)
    run = api.service.runs[run_id]
    await until(lambda: any(isinstance(event, Token) for event in run.bus.history))
    response = await api.client.post(f"/api/benchmark/{run_id}/cancel")
    assert response.status_code == 202
    assert [kind for kind, _ in await follow(api.client, run_id)][-1] == "cancelled"
    record = await stored(api.client, run_id)
    assert record["status"] == "cancelled" and record["iterations"] == []
    await api_succeeds(api, "ollama", server.url)
