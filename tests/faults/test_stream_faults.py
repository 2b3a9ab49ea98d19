"""The faults of one chat request (``matrix.FAULTS``: a dropped connection, malformed JSON, an error object,
HTTP errors, a stall beyond the read timeout, a stream without its end), hitting iteration 2 on every face:
the run fails naming the server, history keeps the warmup and iteration 1, and the next run succeeds."""

from __future__ import annotations

import pytest

from llamaburn.engine.registry import Registry
from llamaburn.storage.store import Store
from tests.faults.matrix import (
    BACKENDS,
    FAULTS,
    KEPT_BEFORE_ITERATION_2,
    LABELS,
    PROTOCOLS,
    UI_READ_TIMEOUT_S,
    Fault,
    api_start,
    api_succeeds,
    assert_stored,
    assert_ui_failed,
    bench_args,
    cli_succeeds,
    measure,
    names_the_server,
    page_succeeds,
)
from tests.harness.api import Api, follow, kept, stored
from tests.harness.cli import assert_one_error_line, cli
from tests.harness.page import Page
from tests.harness.servers import NORMAL, Server


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_engine(fault: Fault, protocol: str, server: Server, store: Store, registry: Registry) -> None:
    backend = BACKENDS[protocol](server.url, read_timeout=fault.read_timeout_s)
    try:
        server.arm(NORMAL, NORMAL, fault.script)
        run = await measure(registry, backend, store)
        assert run.status == "failed" and run.error is not None
        assert fault.message(protocol) in run.error and names_the_server(run.error, protocol, server.url)
        assert run.bus.history[-1].type == "error"
        assert_stored(store, run.id, "failed", KEPT_BEFORE_ITERATION_2, fault.message(protocol))
        assert len(server.chats) == 3  # no retry: the failed iteration ends the run, iteration 3 is never asked
        again = await measure(registry, backend, store)  # the same backend, its connection pool included
        assert again.status == "completed" and len(again.iterations) == 3
    finally:
        await backend.aclose()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
def test_fault_cli(fault: Fault, protocol: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    server.arm(NORMAL, NORMAL, fault.script)
    timeout = ["--read-timeout", str(fault.read_timeout_s)] if fault.read_timeout_s else []
    code, result, err = cli(capsys, *bench_args(protocol, server.url), *timeout)
    assert code == 1
    message = assert_one_error_line(err, fault.message(protocol), f"{LABELS[protocol]} at {server.url}")
    assert result is not None and result["status"] == "failed" and result["error"] == message
    assert (len(result["warmups"]), len(result["iterations"])) == (1, 1)
    assert_stored(Store(), result["run_id"], "failed", KEPT_BEFORE_ITERATION_2, message)
    assert len(server.chats) == 3
    cli_succeeds(capsys, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_sse(fault: Fault, protocol: str, server: Server, api: Api) -> None:
    server.arm(NORMAL, NORMAL, fault.script)
    timeout = {"read_timeout": fault.read_timeout_s} if fault.read_timeout_s else {}  # the body field a client sets
    run_id = await api_start(api, protocol, server.url, **timeout)
    events = await follow(api.client, run_id)
    kinds = [kind for kind, _ in events]
    assert kinds.count("warmup_complete") == 1 and kinds.count("iteration_complete") == 1
    assert kinds[-1] == "error" and "complete" not in kinds
    message = events[-1][1]["message"]
    assert fault.message(protocol) in message and names_the_server(message, protocol, server.url)
    record = await stored(api.client, run_id)
    assert (record["status"], record["error"]) == ("failed", message)
    assert kept(record) == KEPT_BEFORE_ITERATION_2
    assert len(server.chats) == 3
    await api_succeeds(api, protocol, server.url)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.id)
async def test_fault_ui(fault: Fault, protocol: str, server: Server, page: Page) -> None:
    await page.connect(protocol, server.url)
    timeout = None
    if fault.read_timeout_s:  # the header's field, whose smallest value is a whole second
        timeout = UI_READ_TIMEOUT_S
        page.set_read_timeout(timeout)
    server.arm(NORMAL, NORMAL, fault.script)
    run = await page.run()
    message = fault.message(protocol, timeout)
    assert_ui_failed(page, run, message)
    assert names_the_server(run.error or "", protocol, server.url)
    await page.history_shows(run)
    assert [row["iteration"] for row in page.element("live-iterations").rows] == [1]
    assert_stored(page.service.store, run.id, "failed", KEPT_BEFORE_ITERATION_2, message)
    assert len(server.chats) == 3
    await page_succeeds(page)
