"""Two clocks, reconciled: the server's decode rate and prompt time beside the client's, the TTFT the server
did not spend on the prompt, and a flag when the two decode rates differ by more than 5 %."""

from __future__ import annotations

import pytest

from llamaburn.backends.base import ChatRequest
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.metrics import measure_stream
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

TTFT_S, RATE = 0.04, 100.0


async def measure(script: Script) -> dict[str, object]:
    with FakeServer(script) as server:
        backend = OpenAIBackend(server.url)
        try:
            chat = ChatRequest(model=DEFAULT_MODEL, prompt="hi")
            return await measure_stream(backend.stream_chat(chat), lambda text: None)
        finally:
            await backend.aclose()


async def test_llama_cpp_decode_time_covers_n_minus_1_tokens() -> None:
    metrics = await measure(Script(tokens=20, ttft_s=TTFT_S, tokens_per_s=RATE, llama_cpp=True))
    assert metrics["server_tps"] == pytest.approx(RATE)  # (predicted_n - 1) / predicted_ms, as llama-server's
    assert metrics["tps"] == pytest.approx(RATE, rel=0.05)
    assert metrics["clocks_disagree"] is False
    assert metrics["tps_gap_pct"] < 5  # type: ignore[operator]


async def test_the_prompt_time_and_the_overhead_sit_beside_ttft() -> None:
    metrics = await measure(Script(tokens=5, ttft_s=TTFT_S, tokens_per_s=RATE, llama_cpp=True))
    assert metrics["server_prompt_ms"] == pytest.approx(TTFT_S * 1000)
    overhead = metrics["ttft_overhead_ms"]
    assert overhead == pytest.approx(metrics["ttft_ms"] - TTFT_S * 1000)  # type: ignore[operator]
    assert 0 <= overhead < 20  # type: ignore[operator]


async def test_chunks_of_several_tokens_make_the_clocks_disagree() -> None:
    """Three tokens a chunk over 12 tokens: the client's first chunk already holds 3, so its rate reads
    (12 - 1) / (12 - 3) = 22 % high (docs/metrics.md)."""
    metrics = await measure(Script(tokens=12, ttft_s=TTFT_S, tokens_per_s=RATE, tokens_per_chunk=3, llama_cpp=True))
    assert metrics["clocks_disagree"] is True
    assert 10 < metrics["tps_gap_pct"] < 40  # type: ignore[operator]


async def test_a_server_without_its_own_clock_leaves_them_unknown() -> None:
    metrics = await measure(Script(tokens=5, tokens_per_s=RATE))
    assert (metrics["server_tps"], metrics["server_prompt_ms"], metrics["clocks_disagree"]) == (None, None, None)
