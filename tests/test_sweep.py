"""Sweeps: a grid of ordinary runs, simultaneous streams measured against fake servers with exact clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from llamaburn.engine.aggregate import aggregate, knee, meets
from llamaburn.engine.registry import load_registry
from llamaburn.errors import InputsError
from llamaburn.service.assembly import BackendPool
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest, points
from llamaburn.service.sweeper import Cell, Sweep
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.servers import OLLAMA_VERSION

OTHER = "qwen2.5:0.5b"


def sweep_of(url: str, warmup: int = 0, **axes: object) -> SweepRequest:
    base = RunRequest(inputs={"iterations": 1, "warmup": warmup}, backend="ollama", url=url, model=DEFAULT_MODEL)
    return SweepRequest.model_validate({"base": base, **axes})


async def run_all(sweep: Sweep, store: Store | None = None) -> list[Cell]:
    backends = BackendPool(sweep.registry)
    try:
        return [cell async for cell in sweep.cells(backends, store)]
    finally:
        await backends.aclose()


def test_grid_is_models_then_settings_then_concurrency() -> None:
    request = sweep_of("http://127.0.0.1:9", models=[DEFAULT_MODEL, OTHER],
                       settings={"max_tokens": [8, 16]}, concurrency=[1, 2])
    grid = points(request, load_registry())
    assert [tuple(p.coordinates.values()) for p in grid] == [
        (DEFAULT_MODEL, 8, 1), (DEFAULT_MODEL, 8, 2), (DEFAULT_MODEL, 16, 1), (DEFAULT_MODEL, 16, 2),
        (OTHER, 8, 1), (OTHER, 8, 2), (OTHER, 16, 1), (OTHER, 16, 2),
    ]
    assert grid[5].request.model == OTHER and grid[5].request.inputs == {"iterations": 1, "warmup": 0,
                                                                         "max_tokens": 8}


@pytest.mark.parametrize(
    ("axes", "loc"),
    [
        ({"settings": {"max_tokens": [8, -1]}}, ("settings", "max_tokens", 1)),
        ({"settings": {"no_such_field": [1]}}, ("settings", "no_such_field", 0)),
        ({"settings": {"max_tokens": []}}, ("settings", "max_tokens")),
        ({"concurrency": [0, 2]}, ("concurrency",)),
        ({"concurrency": [2, 2]}, ("concurrency",)),
        ({"models": ["a", "a"]}, ("models",)),
    ],
)
def test_bad_axis_is_refused_by_its_path_before_any_request(axes: dict[str, object], loc: tuple[object]) -> None:
    with pytest.raises(InputsError) as refused:
        points(sweep_of("http://127.0.0.1:9", **axes), load_registry())
    assert [problem[0] for problem in refused.value.problems] == [loc]


def test_aggregate_arithmetic_is_exact() -> None:
    requests = [{"output_tokens": 10, "ttft_ms": 100.0, "tps": 50.0, "itl_ms_p95": 20.0},
                {"output_tokens": 30, "ttft_ms": 300.0, "tps": 25.0, "itl_ms_p95": 45.0}]
    result = aggregate(requests, 0.5, {"ttft_ms": 200, "itl_ms_p95": 40})
    assert result["aggregate_tps"] == 80.0 and result["requests_per_s"] == 4.0
    assert result["stream_tps_mean"] == 37.5 and result["ttft_ms_p50"] == 200.0 and result["ttft_ms_p95"] == 290.0
    assert result["goodput_pct"] == 50.0
    assert aggregate(requests, 0.5, {})["goodput_pct"] is None
    assert not meets({"ttft_ms": None}, {"ttft_ms": 1e9})  # unmeasured is not met


def test_knee_is_where_throughput_stops_rising_or_goodput_falls() -> None:
    rising = [(1, {"aggregate_tps": 50}), (2, {"aggregate_tps": 100}), (4, {"aggregate_tps": 104})]
    assert knee(rising) == 2
    assert knee(rising[:2]) is None
    assert knee([(1, {"aggregate_tps": 50}), (2, {"aggregate_tps": 100, "goodput_pct": 50.0})]) == 1


async def test_two_parallel_streams_double_throughput_and_keep_each_streams_rate() -> None:
    # 21 tokens at 50 tok/s: the last one 0.4 s after the first, so each stream decodes at exactly 50 tok/s;
    # a warmup per stream opens its connection first, so the counted request starts on a warm one
    with FakeServer(Script(tokens=21, tokens_per_s=50)) as fake:
        sweep = Sweep(sweep_of(fake.url, warmup=1, concurrency=[1, 2]), load_registry())
        one, two = await run_all(sweep)
        assert fake.connections <= 3  # 2 streams: 2 connections, kept alive from one point to the next
    for cell in (one, two):
        assert cell.status == "completed"
        assert [stream["tps"]["mean"] for stream in cell.streams] == pytest.approx([50.0] * len(cell.streams), 0.05)
    assert one.aggregate["output_tokens"] == 42 and two.aggregate["output_tokens"] == 84  # warmups included
    # the server's clock makes 0.8 s (two requests of 0.4 s) the least wall time, so 52.5 and 105 tok/s are
    # exact upper bounds; the client's connect and send add a few ms (more on a loaded machine)
    assert one.aggregate["wall_ms"] >= 800 and two.aggregate["wall_ms"] >= 800
    assert 52.5 * 0.7 < one.aggregate["aggregate_tps"] <= 52.5 and 105 * 0.7 < two.aggregate["aggregate_tps"] <= 105
    assert two.aggregate["aggregate_tps"] / one.aggregate["aggregate_tps"] == pytest.approx(2.0, rel=0.2)
    assert two.aggregate["ttft_ms_p95"] < 50


async def test_a_two_slot_server_queues_the_third_and_fourth_streams() -> None:
    # each answer takes 0.1 s to its first token: streams 3 and 4 wait for a slot, one whole answer more
    with FakeServer(Script(tokens=6, ttft_s=0.1, tokens_per_s=50), slots=2) as fake:
        cells = await run_all(Sweep(sweep_of(fake.url, concurrency=[4], slo={"ttft_ms": 150}), load_registry()))
    ttfts = sorted(stream["ttft_ms"]["mean"] for stream in cells[0].streams)
    # warmup 0: each stream's first request also opens its connection, a few ms on loopback
    # a slot frees when an answer ends (0.2 s), so a queued stream's TTFT is one answer plus its own 0.1 s,
    # less the few ms by which its request left after the first stream's (each is timed from its own send)
    assert all(100 <= ttft < 150 for ttft in ttfts[:2]) and all(285 <= ttft < 360 for ttft in ttfts[2:]), ttfts
    assert cells[0].aggregate["goodput_pct"] == 50.0
    assert 60 * 0.7 < cells[0].aggregate["aggregate_tps"] <= 60  # 24 tokens in two rounds of 0.2 s at best


async def test_every_stream_lands_in_history_tagged_with_the_sweep(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    with FakeServer(Script(tokens=3), models=(DEFAULT_MODEL, OTHER)) as fake:
        sweep = Sweep(sweep_of(fake.url, models=[DEFAULT_MODEL, OTHER], concurrency=[1, 2]), load_registry())
        cells = await run_all(sweep, store)
    runs = store.list_runs()
    assert len(runs) == 6 and {run.config["sweep"]["id"] for run in runs} == {sweep.id}
    assert sorted(run.config["sweep"]["coordinates"]["concurrency"] for run in runs) == [1, 1, 2, 2, 2, 2]
    assert [cell.coordinates["model"] for cell in cells] == [DEFAULT_MODEL, DEFAULT_MODEL, OTHER, OTHER]
    assert sweep.knees() == {DEFAULT_MODEL: sweep.knees()[DEFAULT_MODEL], OTHER: sweep.knees()[OTHER]}


async def test_the_server_is_asked_its_models_and_version_once_per_sweep_not_per_run(tmp_path: Path) -> None:
    # 2 models x concurrency 1,2,3: 12 runs. Each run used to ask /api/tags and /api/version itself.
    with FakeServer(Script(tokens=2), models=[DEFAULT_MODEL, OTHER]) as fake:
        sweep = Sweep(sweep_of(fake.url, models=[DEFAULT_MODEL, OTHER], concurrency=[1, 2, 3]), load_registry())
        store = Store(f"sqlite:///{tmp_path / 'h.db'}")
        cells = await run_all(sweep, store)
        paths = [request.path for request in fake.requests]
    assert len(cells) == 6 and paths.count("/api/chat") == 12
    assert paths.count("/api/version") == 1
    assert paths.count("/api/tags") == 2  # once for each of the sweep's models, as its points are checked
    runs = store.sweep_runs(sweep.id)
    assert len(runs) == 12 and {run.system["backend_version"] for run in runs} == {OLLAMA_VERSION}
    assert sorted(run.model for run in runs) == sorted([DEFAULT_MODEL] * 6 + [OTHER] * 6)
