"""The server goes away, or restarts, between two iterations, on every face: a restart costs nothing, a
server that stays down fails the run keeping what was measured, and the same backend works once it is back."""

from __future__ import annotations

import pytest

from llamaburn.engine.registry import Registry
from llamaburn.storage.store import Store
from tests.faults.matrix import (
    BACKENDS,
    COMPLETED,
    KEPT_BEFORE_ITERATION_2,
    PROTOCOLS,
    api_start,
    api_succeeds,
    assert_stored,
    assert_ui_failed,
    bench_args,
    cli_succeeds,
    measure,
    not_reachable,
    page_succeeds,
)
from tests.harness.api import Api, follow, kept, stored
from tests.harness.cli import assert_one_error_line, cli
from tests.harness.moments import Moments
from tests.harness.page import Page
from tests.harness.servers import Server, come_back, restart

# The server goes away, or restarts, between two iterations


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_engine(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, store: Store, registry: Registry
) -> None:
    async with BACKENDS[protocol](own_server.url) as backend:
        moments.at("between", restart(servers))
        run = await measure(registry, backend, store)
        assert run.status == "completed" and len(run.iterations) == 3
        assert [len(s.chats) for s in servers] == [2, 2]  # warmup + iteration 1, then iterations 2 and 3
        assert_stored(store, run.id, "completed", COMPLETED)

        moments.at("between", restart(servers, down=True))
        down = await measure(registry, backend, store)
        assert down.status == "failed" and not_reachable(protocol, own_server.url) in (down.error or "")
        assert_stored(store, down.id, "failed", KEPT_BEFORE_ITERATION_2, "is not reachable")
        come_back(servers)
        assert (await measure(registry, backend, store)).status == "completed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_restart_between_iterations_cli(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, capsys: pytest.CaptureFixture[str]
) -> None:
    moments.at("between", restart(servers))
    code, result, err = cli(capsys, *bench_args(protocol, own_server.url))
    assert code == 0 and result is not None and result["status"] == "completed", err
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    code, result, err = cli(capsys, *bench_args(protocol, own_server.url))
    assert code == 1 and result is not None
    message = assert_one_error_line(err, not_reachable(protocol, own_server.url))
    assert_stored(Store(), result["run_id"], "failed", KEPT_BEFORE_ITERATION_2, message)
    come_back(servers)
    cli_succeeds(capsys, protocol, own_server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_sse(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, api: Api
) -> None:
    moments.at("between", restart(servers))
    await api_succeeds(api, protocol, own_server.url)
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    run_id = await api_start(api, protocol, own_server.url)
    events = await follow(api.client, run_id)
    assert events[-1][0] == "error" and not_reachable(protocol, own_server.url) in events[-1][1]["message"]
    record = await stored(api.client, run_id)
    assert record["status"] == "failed" and kept(record) == KEPT_BEFORE_ITERATION_2
    come_back(servers)
    await api_succeeds(api, protocol, own_server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_restart_between_iterations_ui(
    protocol: str, servers: list[Server], own_server: Server, moments: Moments, page: Page
) -> None:
    await page.connect(protocol, own_server.url)
    moments.at("between", restart(servers))
    await page_succeeds(page)
    assert [len(s.chats) for s in servers] == [2, 2]

    moments.at("between", restart(servers, down=True))
    run = await page.run()
    assert_ui_failed(page, run, not_reachable(protocol, own_server.url))
    assert_stored(page.service.store, run.id, "failed", KEPT_BEFORE_ITERATION_2, "is not reachable")
    come_back(servers)
    await page_succeeds(page)
