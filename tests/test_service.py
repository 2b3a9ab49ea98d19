"""Runs owned by the process, not by a page: one per backend, kept going, landing in history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import load_registry
from llamaburn.errors import CapabilityError, ConfigError, InputsError, RunInProgressError
from llamaburn.hookspecs import hookimpl
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=40, tokens_per_s=200)) as server:
        yield server


@pytest.fixture
async def service() -> AsyncIterator[RunService]:
    benchmarks = RunService(load_registry(), Store())
    yield benchmarks
    await benchmarks.aclose()


def text_run(service: RunService, url: str, **inputs: object) -> RunRequest:
    return RunRequest(inputs={"iterations": 2, "warmup": 0, **inputs}, backend="ollama", url=url, model=DEFAULT_MODEL)


async def finished(service: RunService, run_id: str) -> None:
    while service.runs[run_id].status in ("pending", "running") or service.store.get_run(run_id).status == "running":
        await asyncio.sleep(0.02)


async def test_run_lands_in_history_and_listeners_hear_it(service: RunService, fake: FakeServer) -> None:
    changes: list[int] = []
    unsubscribe = service.on_history_change(lambda: changes.append(service.store.count_runs()))
    run = await service.start(text_run(service, fake.url))
    await finished(service, run.id)
    await asyncio.sleep(0.05)
    stored = service.store.get_run(run.id)
    assert stored.status == "completed" and len(service.store.iterations(run.id)) == 2
    assert changes[0] == 1 and len(changes) >= 2
    unsubscribe()


async def test_one_run_at_a_time_per_backend_and_backends_are_reused(
    service: RunService, fake: FakeServer
) -> None:
    first = await service.start(text_run(service, fake.url, iterations=3))
    with pytest.raises(RunInProgressError) as refused:
        await service.start(text_run(service, fake.url))
    assert refused.value.run_id == first.id
    with pytest.raises(ConfigError, match="still in progress"):
        await service.delete_run(first.id)
    assert await service.clear_history() == 0  # the running run is kept
    await finished(service, first.id)
    second = await service.start(text_run(service, fake.url))
    assert second.target.backend is first.target.backend
    await finished(service, second.id)
    assert fake.connections == 1  # one keep-alive connection across both runs


async def test_close_cancels_what_runs_and_records_it(fake: FakeServer) -> None:
    service = RunService(load_registry(), Store())
    fake.script = Script(tokens=1000, tokens_per_s=100)
    run = await service.start(text_run(service, fake.url))
    await asyncio.sleep(0.3)
    await service.aclose()
    assert run.status == "cancelled"
    assert service.store.get_run(run.id).status == "cancelled"


async def test_cancel_unknown_run_is_a_clear_error(service: RunService) -> None:
    with pytest.raises(ConfigError, match="no run 'nope' in progress"):
        service.cancel("nope")


async def test_two_starts_at_once_on_one_backend_give_one_run(service: RunService, fake: FakeServer) -> None:
    results = await asyncio.gather(service.start(text_run(service, fake.url)),
                                   service.start(text_run(service, fake.url)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Run", "RunInProgressError"]


async def test_queued_runs_wait_their_turn_in_order(service: RunService, fake: FakeServer) -> None:
    first = await service.start(text_run(service, fake.url))
    second = await service.start(text_run(service, fake.url), queue=True)
    third = await service.start(text_run(service, fake.url), queue=True)
    assert service.ahead(second) is first and service.ahead(third) is first
    await finished(service, third.id)
    records = {r.id: r for r in service.store.list_runs()}
    assert all(records[r.id].status == "completed" for r in (first, second, third))
    assert records[first.id].created_at < records[second.id].created_at < records[third.id].created_at


async def test_bad_inputs_are_refused_by_field_before_any_request(service: RunService, fake: FakeServer) -> None:
    with pytest.raises(InputsError) as refused:
        await service.start(text_run(service, fake.url, max_tokens=0, prompts=[]))
    assert {loc for loc, _ in refused.value.problems} == {("max_tokens",), ("prompts",)}
    assert fake.requests == [] and service.runs == {} and service.store.count_runs() == 0


async def test_a_run_asked_not_to_save_stays_out_of_history(service: RunService, fake: FakeServer) -> None:
    run = await service.start(text_run(service, fake.url).model_copy(update={"save": False}))
    await run.done.wait()
    assert run.status == "completed" and service.store.count_runs() == 0


class _Transcribe(Modality):
    """A modality that needs what no built-in chat backend declares."""

    name = "transcribe"
    label = "Transcribe"
    available = True
    requires = frozenset({"transcription"})


@pytest.mark.parametrize("named", [True, False])
async def test_a_backend_without_a_needed_capability_is_refused_before_any_request(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)  # the default backend, when none is named
    registry = load_registry(extra=[("transcribe", _Plugin())])
    service = RunService(registry, Store())
    try:
        where = {"backend": "ollama", "url": fake.url} if named else {}
        request = RunRequest(modality="transcribe", **where)
        with pytest.raises(CapabilityError, match=r"^Ollama has no transcription capability, which Transcribe"):
            await service.start(request)
        assert [r for r in fake.requests if "chat" in r.path] == []
        if named:  # refused before reaching the server at all
            assert fake.requests == []
        assert service.runs == {} and service.store.count_runs() == 0
    finally:
        await service.aclose()


class _Plugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Any], None]) -> None:
        register(_Transcribe())
