"""Two runs started at once against one backend, from every face and from two processes: one runs, the
other is refused at once naming the first, and nothing of the refused one is stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from nicegui.testing import User

from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.errors import RunInProgressError
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL
from tests.faults.matrix import (
    FORM,
    PACED,
    PROMPT,
    PROTOCOLS,
    api_succeeds,
    bench_args,
    cli_succeeds,
    page_succeeds,
    run_body,
)
from tests.harness.api import Api, follow
from tests.harness.cli import assert_one_error_line, cli
from tests.harness.moments import until
from tests.harness.page import Page, open_page
from tests.harness.servers import Server

# Two runs started at once against one backend


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_runs_at_once_engine(protocol: str, server: Server, store: Store, registry: Registry) -> None:
    service = RunService(registry, store)
    try:
        checked = RunRequest(inputs={"prompts": [PROMPT], "iterations": 3, "warmup": 1}, backend=protocol,
                             url=server.url, model=DEFAULT_MODEL)
        server.arm(PACED, PACED, PACED, PACED)  # the first run outlasts the second's preparation: they overlap
        first, second = await asyncio.gather(service.start(checked), service.start(checked), return_exceptions=True)
        [run] = [r for r in (first, second) if isinstance(r, Run)]
        [refused] = [r for r in (first, second) if isinstance(r, RunInProgressError)]
        assert refused.run_id == run.id and "a run is already in progress on" in str(refused)
        await run.done.wait()
        assert run.status == "completed" and len(server.chats) == 4  # one run's requests, not two
        await until(lambda: store.get_run(run.id).status == "completed")
        assert store.count_runs() == 1  # the refused run never entered history
        again = await service.start(checked)
        await again.done.wait()
        assert again.status == "completed"
    finally:
        await service.aclose()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_runs_at_once_api(protocol: str, server: Server, api: Api) -> None:
    body = run_body(protocol, server.url)
    responses = await asyncio.gather(*(api.client.post("/api/benchmark", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [202, 409]
    accepted = next(r for r in responses if r.status_code == 202).json()
    busy = next(r for r in responses if r.status_code == 409).json()
    assert busy["run_id"] == accepted["run_id"] and "a run is already in progress on" in busy["detail"]
    assert [kind for kind, _ in await follow(api.client, accepted["run_id"])][-1] == "complete"
    assert (await api.client.get("/api/history")).json()["total"] == 1
    await api_succeeds(api, protocol, server.url)


async def test_two_runs_at_once_ui(
    server: Server, page: Page, create_user: Callable[[], User], app_service: RunService
) -> None:
    """Two tabs press Run together on one backend: one runs, the other is told why it cannot."""
    other = await open_page(create_user(), app_service, **FORM)
    await until(lambda: other.text("backend-status").startswith("connected"))
    server.arm(PACED, PACED, PACED, PACED)
    page.user.find(marker="run-button").click()
    other.user.find(marker="run-button").click()
    await until(lambda: len(app_service.runs) == 1)
    [run] = app_service.runs.values()
    busy = "a run is already in progress on Ollama"
    await until(lambda: any(busy in line for tab in (page, other) for line in tab.log_lines()))
    refused = [tab for tab in (page, other) if any(busy in line for line in tab.log_lines())]
    assert len(refused) == 1
    assert refused[0].user.notify.contains(busy) or (page if refused[0] is other else other).user.notify.contains(busy)
    runner = other if refused[0] is page else page
    await runner.ended(run)
    assert run.status == "completed" and app_service.store.count_runs() == 1
    await page_succeeds(refused[0])


def test_two_runs_at_once_from_two_cli_processes_the_second_is_refused(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second ``llamaburn bench`` process on a server the first is measuring is refused at once, naming the
    first run and its process (the server's lock), stores nothing, and the first run goes on undisturbed."""
    server.arm(*[PACED] * 200)  # 80 ms a request: the first run's 30 iterations outlast the second attempt
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    first = subprocess.Popen(
        [sys.executable, "-m", "llamaburn", *bench_args("ollama", server.url, 30, 0)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        store = Store()
        deadline = time.monotonic() + 30
        while not (store.list_runs() and server.chats) and time.monotonic() < deadline:
            time.sleep(0.02)
        [running] = store.list_runs()
        chats = len(server.chats)
        code, result, err = cli(capsys, *bench_args("ollama", server.url))  # while the first one streams
        assert code == 2 and result is None
        assert_one_error_line(
            err,
            f"a run is already in progress on Ollama at {server.url} (run {running.id}, "
            f"in another llamaburn process, pid {first.pid}): wait for it or cancel it",
        )
        assert [run.id for run in store.list_runs()] == [running.id]  # the refused run was never stored
        # No request from a second client: the first one's connection, or none yet if the refusal was quick.
        assert len({r.client_port for r in server.chats[chats:]}) <= 1
        assert store.get_run(running.id).status == "running"
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 130
    assert [run.status for run in Store().list_runs()] == ["cancelled"]
    cli_succeeds(capsys, "ollama", server.url)  # the lock went with the first process
