"""What a sweep asks its server before sending: the depth counted by the server's own tokenizer, a depth
beyond the model's context refused, and concurrency above the server's slots allowed but shown."""

from __future__ import annotations

import pytest

from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.errors import InputsError
from llamaburn.service.assembly import BackendPool
from llamaburn.service.request import RunRequest
from llamaburn.service.sweep import SweepRequest
from llamaburn.service.sweeper import Cell, Sweep
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.llama_cpp import Tokenizer
from tests.harness.cli import assert_one_error_line, cli

QUEUED = ("concurrency 4 is above the server's 2 slots: 2 of the streams queue for a slot, so their TTFT "
          "includes the wait")


def sweep_of(url: str, backend: str = "openai", **axes: object) -> Sweep:
    base = RunRequest(inputs={"iterations": 1, "warmup": 0}, backend=backend, url=url, model=DEFAULT_MODEL)
    return Sweep(SweepRequest.model_validate({"base": base, **axes}), load_registry())


async def run_all(sweep: Sweep) -> list[Cell]:
    backends = BackendPool(sweep.registry)
    try:
        return [cell async for cell in sweep.cells(backends, None)]
    finally:
        await backends.aclose()


def contexts(fake: FakeServer) -> list[str]:
    """The context before each chat's prompt, as sent (after any nonce line, before the blank line)."""
    sent = [r.body["messages"][-1]["content"] for r in fake.requests if r.path == "/v1/chat/completions"]
    return [text.rsplit("\n\n", 1)[0].split("\n")[-1] for text in sent]


async def test_each_depth_is_exactly_that_many_of_the_servers_own_tokens() -> None:
    with FakeServer(Script(tokens=3, llama_cpp=True)) as fake:
        cells = await run_all(sweep_of(fake.url, depth=[16, 40]))
        sent = contexts(fake)
    counted = [len(Tokenizer().tokenize(text)) for text in sent]  # a fresh vocabulary: the same pieces
    assert counted == [16, 40]
    assert [len(text.split()) for text in sent] != [16, 40]  # words are not tokens in this vocabulary
    assert [(c.aggregate["depth_source"], c.aggregate["depth_tokens"]) for c in cells] == [("tokenizer", 16),
                                                                                           ("tokenizer", 40)]


async def test_a_server_without_a_tokenizer_gets_the_estimate_and_the_cell_says_so() -> None:
    with FakeServer(Script(tokens=3)) as fake:  # an OpenAI-compatible server that is not llama-server
        cells = await run_all(sweep_of(fake.url, depth=[16]))
        sent = contexts(fake)
    assert [len(text.split()) for text in sent] == [16]
    assert cells[0].aggregate["depth_source"] == "estimate" and "/tokenize" not in {r.path for r in fake.requests}


@pytest.mark.parametrize(("backend", "script", "limit", "what"), [
    ("openai", Script(llama_cpp=True), "4,096", "the server's context per slot"),
    ("ollama", Script(), "131,072", "the context length"),
])
async def test_a_depth_beyond_the_context_is_refused_before_any_chat(
    backend: str, script: Script, limit: str, what: str
) -> None:
    with FakeServer(script) as fake:
        sweep = sweep_of(fake.url, backend, depth=[256, 200_000])
        with pytest.raises(InputsError) as refused:
            await run_all(sweep)
        chats = [r for r in fake.requests if r.path in ("/v1/chat/completions", "/api/chat")]
    assert refused.value.problems == [(("depth",), f"200,000 tokens is beyond {what} of "
                                                   f"{DEFAULT_MODEL} ({limit} tokens, as "
                                                   f"{'llama.cpp' if backend == 'openai' else 'ollama'} says): "
                                                   "pick depths under it")]
    assert chats == [] and sweep.cells_done == []


@pytest.mark.parametrize(("slots", "refused"), [(1, False), (2, True)])
async def test_the_limit_is_what_the_server_gives_one_request_not_what_the_model_was_trained_on(
    slots: int, refused: bool
) -> None:
    # llama-server -c 4096: the model was trained on 32,768 tokens, one slot holds 4,096, two hold 2,048 each
    with FakeServer(Script(llama_cpp=True), slots=slots) as fake:
        sweep = sweep_of(fake.url, depth=[3000])
        if refused:
            with pytest.raises(InputsError, match=r"3,000 tokens is beyond the server's context per slot of .* "
                                                  r"\(2,048 tokens, as llama.cpp says\)"):
                await run_all(sweep)
        else:
            assert [cell.status for cell in await run_all(sweep)] == ["completed"]
        chats = [r for r in fake.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == (0 if refused else 1)


def test_the_cli_refuses_a_too_deep_sweep_in_one_line_and_stores_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeServer(Script(llama_cpp=True)) as fake:
        code, _, err = cli(capsys, "sweep", "--backend", "openai", "--url", fake.url, "--depth", "64,40000")
        assert [r for r in fake.requests if r.path == "/v1/chat/completions"] == []
    assert code == 2
    assert_one_error_line(err, "depth: 40,000 tokens is beyond the server's context per slot of")
    assert Store().list_runs() == []


async def test_concurrency_above_the_servers_slots_runs_and_each_such_cell_says_it_queued() -> None:
    # a llama-server with 2 slots (/props total_slots): each answer takes 0.1 s to its first token, 0.2 s in all
    with FakeServer(Script(tokens=6, ttft_s=0.1, tokens_per_s=50, llama_cpp=True), slots=2) as fake:
        two, four = await run_all(sweep_of(fake.url, concurrency=[2, 4]))
    assert (two.warnings, two.aggregate["server_slots"], two.aggregate["queued_streams"]) == ([], 2, 0)
    assert (four.warnings, four.aggregate["server_slots"], four.aggregate["queued_streams"]) == ([QUEUED], 2, 2)
    ttfts = sorted(stream["ttft_ms"]["mean"] for stream in four.streams)
    assert all(100 <= t < 150 for t in ttfts[:2]) and all(300 <= t < 360 for t in ttfts[2:]), ttfts  # the wait shows
    assert four.status == "completed"


def test_the_cli_prints_the_queueing_warning_and_marks_the_cell(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeServer(Script(tokens=4, tokens_per_s=200, llama_cpp=True), slots=2) as fake:
        code = main(["sweep", "--backend", "openai", "--url", fake.url, "--model", DEFAULT_MODEL, "--iterations", "1",
                     "--warmup", "0", "--quiet", "--concurrency", "2,4"])
    out, err = capsys.readouterr()
    assert code == 0
    assert err.splitlines() == [f"llamaburn: warning: point 2: {QUEUED}"]
    header, _, first, second = out.splitlines()[1:5]
    assert header.split()[-1] == "queued_streams" and first.split()[-1] == "0" and second.split()[-1] == "2"
