"""A sweep's context depth: about N tokens of context before each prompt, prefill and decode rates per depth."""

from __future__ import annotations

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError, InputsError
from llamaburn.service.assembly import BackendPool
from llamaburn.service.curves import curves
from llamaburn.service.depth import context_text
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest, points
from llamaburn.service.sweeper import Sweep
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from tests.harness.cli import assert_one_error_line, cli


def sweep_of(url: str, modality: str = "text", **axes: object) -> SweepRequest:
    base = RunRequest(modality=modality, inputs={"iterations": 1, "warmup": 0}, backend="ollama", url=url,
                      model=DEFAULT_MODEL, read_timeout=None)
    return SweepRequest.model_validate({"base": base, **axes})


def test_each_depth_puts_that_many_words_of_context_before_every_prompt() -> None:
    grid = points(sweep_of("http://127.0.0.1:9", depth=[4, 16], concurrency=[1, 2],
                           settings={"prompts": [["Hi.", "Bye."]]}), load_registry())
    assert [(p.coordinates["depth"], p.coordinates["concurrency"]) for p in grid] == [(4, 1), (4, 2), (16, 1), (16, 2)]
    assert grid[0].request.inputs["prompts"] == ["the cat sat on\n\nHi.", "the cat sat on\n\nBye."]
    assert len(grid[2].request.inputs["prompts"][0].split("\n\n")[0].split()) == 16
    assert context_text(16) == context_text(16) and len(context_text(1000).split()) == 1000


@pytest.mark.parametrize("depth", [[0], [8, 8], [2_000_000]])
def test_a_bad_depth_is_refused_by_its_path(depth: list[int]) -> None:
    with pytest.raises(InputsError) as refused:
        points(sweep_of("http://127.0.0.1:9", depth=depth), load_registry())
    assert refused.value.problems[0][0] == ("depth",)


def test_a_modality_without_a_prompt_to_lengthen_refuses_depth() -> None:
    with pytest.raises(ConfigError, match="Code benchmarks take no context depth"):
        points(sweep_of("http://127.0.0.1:9", modality="code", depth=[8]), load_registry())


async def test_each_depth_reports_the_servers_prefill_rate_and_draws_it_against_depth() -> None:
    # the fake Ollama reports 12 prompt tokens over 0.05 s: a prefill rate of exactly 240 tok/s
    with FakeServer(Script(tokens=5, ttft_s=0.05, tokens_per_s=100)) as fake:
        sweep = Sweep(sweep_of(fake.url, depth=[8, 32]), load_registry())
        backends = BackendPool(sweep.registry)
        try:
            cells = [cell async for cell in sweep.cells(backends, None)]
        finally:
            await backends.aclose()
        sent = [r.body["messages"][-1]["content"] for r in fake.requests if r.path == "/api/chat"]
    assert [len(text.split("\n")[1].split()) for text in sent] == [8, 32]  # after the cold nonce line
    assert [cell.aggregate["prompt_tps_mean"] for cell in cells] == pytest.approx([240.0, 240.0], rel=1e-12)
    assert {cell.aggregate["depth_source"] for cell in cells} == {"estimate"}
    by_depth = {c["metric"]: c for c in curves(cells) if c["x"] == "depth"}
    assert set(by_depth) == {"prompt_tps_mean", "stream_tps_mean", "ttft_ms_p50"}
    (line,) = by_depth["prompt_tps_mean"]["series"]
    assert line["name"] == f"{DEFAULT_MODEL} · concurrency=1"
    assert [x for x, _ in line["data"]] == [8, 32] and [y for _, y in line["data"]] == pytest.approx([240.0] * 2)


def test_the_cli_takes_depth_and_refuses_a_bad_one_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "sweep", "--backend", "ollama", "--url", "http://127.0.0.1:9", "--depth", "8,x")
    assert code == 2
    assert_one_error_line(err, "--depth: 'x' is not a number")
