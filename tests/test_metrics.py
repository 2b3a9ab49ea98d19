from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from llamaburn.backends.base import Chunk, ServerTimings
from llamaburn.engine.metrics import measure_stream, percentile, stream_metrics, summarize
from llamaburn.errors import BackendError


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile([7.0], 99) == 7.0


def test_stream_metrics_from_known_clock_readings() -> None:
    # Request at t=0, first text at 100 ms, then a chunk every 10 ms: 11 chunks in all, end at 250 ms.
    arrivals = [0.100 + i * 0.010 for i in range(11)]
    metrics = stream_metrics(0.0, arrivals, 0.250, None)
    assert metrics["ttft_ms"] == pytest.approx(100)
    assert metrics["total_ms"] == pytest.approx(250)
    assert metrics["output_tokens"] == 11
    assert metrics["token_count_source"] == "chunks"
    assert metrics["tps"] == pytest.approx(10 / 0.100)  # (tokens - 1) / (last - first)
    assert metrics["itl_ms_mean"] == pytest.approx(10)
    assert metrics["itl_ms_p50"] == pytest.approx(10)
    assert metrics["itl_ms_p99"] == pytest.approx(10)
    assert metrics["server_tps"] is None
    assert metrics["prompt_tps"] is None
    assert metrics["load_ms"] is None


def test_server_count_wins_over_chunks_and_server_rates_use_nanoseconds() -> None:
    timings = ServerTimings(output_tokens=21, eval_ns=500_000_000, prompt_tokens=10, prompt_eval_ns=20_000_000,
                            load_ns=3_000_000)
    metrics = stream_metrics(0.0, [0.05, 0.15], 0.2, timings)  # two chunks carrying 21 tokens
    assert metrics["output_tokens"] == 21
    assert metrics["token_count_source"] == "server"
    assert metrics["tps"] == pytest.approx(20 / 0.1)
    assert metrics["server_tps"] == pytest.approx(42.0)
    assert metrics["prompt_tps"] == pytest.approx(500.0)
    assert metrics["load_ms"] == pytest.approx(3.0)


def test_missing_server_fields_stay_unknown() -> None:
    """Ollama omits zero fields: a cache hit without prompt_eval_count must not report a prompt rate."""
    metrics = stream_metrics(0.0, [0.1, 0.2], 0.3, ServerTimings(output_tokens=2, eval_ns=100_000_000))
    assert metrics["prompt_tps"] is None
    assert metrics["prompt_tokens"] is None
    assert metrics["load_ms"] is None


def test_single_token_has_no_rate_or_gaps() -> None:
    metrics = stream_metrics(0.0, [0.05], 0.06, None)
    assert metrics["tps"] is None
    assert metrics["itl_ms_mean"] is None
    assert metrics["ttft_ms"] == pytest.approx(50)


async def _chunks(*chunks: Chunk) -> AsyncIterator[Chunk]:
    for chunk in chunks:
        yield chunk


async def test_role_only_chunk_is_not_the_first_token_and_thinking_counts() -> None:
    texts: list[str] = []
    metrics = await measure_stream(
        _chunks(Chunk(), Chunk(thinking="hmm"), Chunk(content="Hello"), Chunk(content=" world"),
                Chunk(timings=ServerTimings())),
        texts.append,
    )
    assert texts == ["hmm", "Hello", " world"]
    assert metrics["chunks"] == 3
    assert metrics["output_tokens"] == 3


async def test_empty_answer_is_an_error() -> None:
    with pytest.raises(BackendError, match="empty answer"):
        await measure_stream(_chunks(Chunk(), Chunk(timings=ServerTimings(output_tokens=0))), print)


def test_summary_covers_numeric_metrics_and_skips_unknowns() -> None:
    iterations = [
        {"tps": 10.0, "ttft_ms": 100.0, "server_tps": None, "token_count_source": "chunks"},
        {"tps": 20.0, "ttft_ms": 300.0, "server_tps": None, "token_count_source": "chunks"},
        {"tps": 30.0, "ttft_ms": float("nan"), "server_tps": 5.0, "token_count_source": "chunks"},
    ]
    summary = summarize(iterations)
    assert set(summary) == {"tps", "ttft_ms", "server_tps"}
    assert summary["tps"] == {"mean": 20.0, "min": 10.0, "max": 30.0, "stdev": 10.0, "p50": 20.0,
                              "p90": pytest.approx(28.0), "p99": pytest.approx(29.8)}
    assert summary["ttft_ms"]["mean"] == 200.0
    assert summary["server_tps"]["stdev"] == 0.0
    assert all(math.isfinite(v) for stats in summary.values() for v in stats.values())


def test_percentile_between_opposite_values_near_the_float_maximum_is_finite() -> None:
    assert percentile([-1.7e308, 1.7e308], 50) == 0.0
    assert percentile([-1.7e308, 1.7e308], 90) == pytest.approx(1.36e308)
    assert percentile([-1.7e308, 1.7e308], 0) == -1.7e308


def test_summary_of_values_near_the_float_maximum_is_finite_or_left_out() -> None:
    summary = summarize([{"output_tokens": 1e308, "tps": -1.7e308}, {"output_tokens": 1e308, "tps": 1.7e308},
                         {"output_tokens": 1e308, "tps": 1.7e308}])
    assert summary["output_tokens"]["mean"] == 1e308 and summary["output_tokens"]["stdev"] == 0.0  # no overflow
    assert "tps" not in summary  # its standard deviation is beyond the float range
    assert summarize([{"tps": 10**400}, {"tps": 2.0}])["tps"]["max"] == 2.0  # an integer no float can hold


@pytest.mark.parametrize("bad", [math.nan, math.inf, -5, 0])
def test_server_numbers_that_are_not_finite_and_positive_are_unknown(bad: float) -> None:
    timings = ServerTimings(output_tokens=bad, eval_ns=bad, prompt_tokens=bad, prompt_eval_ns=bad, load_ns=bad)
    metrics = stream_metrics(0.0, [0.1, 0.2], 0.3, timings)
    assert (metrics["server_tps"], metrics["prompt_tps"], metrics["prompt_tokens"], metrics["load_ms"]) == (None,) * 4
    assert (metrics["output_tokens"], metrics["token_count_source"]) == (2, "chunks")


def test_a_fractional_server_count_is_unknown_and_a_whole_float_one_is_an_int() -> None:
    assert stream_metrics(0.0, [0.1, 0.2], 0.3, ServerTimings(output_tokens=2.5))["token_count_source"] == "chunks"
    metrics = stream_metrics(0.0, [0.1, 0.2], 0.3, ServerTimings(output_tokens=12.0, prompt_tokens=3.0))
    assert (metrics["output_tokens"], metrics["prompt_tokens"]) == (12, 3)
    assert type(metrics["output_tokens"]) is int and type(metrics["prompt_tokens"]) is int
