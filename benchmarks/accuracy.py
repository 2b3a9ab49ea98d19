"""2. Accuracy at known rates: llamaburn/testing/servers.py's server paces tokens exactly; how far off is LlamaBurn?

Each repeat measures the same scripted answer three ways, in turn: LlamaBurn's real path, the minimal
httpx reference, and a raw-socket probe that only counts bytes. The probe shows what the server really
delivered, so at 10,000 tok/s it tells the server's own pacing limit apart from the client's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from benchmarks.clients import (
    PROTOCOLS,
    Protocol,
    ReferenceClient,
    Request,
    Sample,
    backend_for,
    llamaburn_run,
    llamaburn_samples,
    probe,
    temp_store,
)
from benchmarks.common import Row, Stat
from benchmarks.servers import MODEL, fake_server

SECTION = "2. Accuracy"
TTFT_S = 0.050
RATES = (100, 1_000, 10_000)
CLIENTS = ("llamaburn", "reference", "probe")


@dataclass(frozen=True, slots=True)
class Measured:
    """Each client's samples of one (protocol, rate) case."""

    protocol: Protocol
    rate: float
    tokens: int
    llamaburn: list[Sample]
    reference: list[Sample]
    probe: list[Sample]


def tokens_for(rate: float, seconds: float) -> int:
    return max(100, round(rate * seconds))


async def measure(protocol: Protocol, rate: float, tokens: int, repeats: int) -> Measured:
    request = Request(model=MODEL, prompt="count", max_tokens=tokens)
    found = Measured(protocol, rate, tokens, [], [], [])
    with fake_server(tokens=tokens, ttft_s=TTFT_S, tokens_per_s=rate) as server:
        backend, reference = backend_for(protocol, server.url), ReferenceClient(server.url, protocol)
        store = temp_store()
        try:
            await llamaburn_run(backend, request, store)  # warm both connections and the server's code paths
            await reference.measure(request)
            for repeat in range(repeats):
                # Rotate the order, so that no client always follows the same one (its idle time and what
                # the previous request left behind in the server would otherwise bias one client).
                for client in (CLIENTS * 2)[repeat % 3 : repeat % 3 + 3]:
                    if client == "llamaburn":
                        found.llamaburn.extend(llamaburn_samples(await llamaburn_run(backend, request, store)))
                    elif client == "reference":
                        found.reference.append(await reference.measure(request))
                    else:
                        found.probe.append(await asyncio.to_thread(probe, server.url, protocol, request))
        finally:
            await backend.aclose()
            await reference.aclose()
    return found


def tps_error_pct(samples: list[Sample], rate: float) -> Stat:
    return Stat.of([(s.tps - rate) / rate * 100 for s in samples if s.tps is not None])


def ttft_error_ms(samples: list[Sample]) -> Stat:
    return Stat.of([s.ttft_ms - TTFT_S * 1000 for s in samples])


def rows(found: Measured) -> list[Row]:
    case = f"{found.protocol} {found.rate:,.0f} tok/s ({found.tokens:,} tokens)"
    gated = found.rate == 1_000
    tps, ttft = tps_error_pct(found.llamaburn, found.rate), ttft_error_ms(found.llamaburn)
    result = [
        Row(SECTION, f"{case}: LlamaBurn TPS error", tps, "%", "|median| <= 1%" if gated else "",
            abs(tps.median) <= 1 if gated else None),
        Row(SECTION, f"{case}: LlamaBurn TTFT error", ttft, "ms", "|median| <= 2 ms" if gated else "",
            abs(ttft.median) <= 2 if gated else None),
        Row(SECTION, f"{case}: LlamaBurn TTFT - probe TTFT, same repeat", Stat.of(
            [ours.ttft_ms - wire.ttft_ms for ours, wire in zip(found.llamaburn, found.probe, strict=True)]), "ms",
            note="the client's own share of the TTFT error; the rest is the fake server's request handling"),
        Row(SECTION, f"{case}: reference httpx TPS error", tps_error_pct(found.reference, found.rate), "%"),
        Row(SECTION, f"{case}: reference httpx TTFT error", ttft_error_ms(found.reference), "ms"),
        Row(SECTION, f"{case}: raw-socket probe TPS error (server pacing)", tps_error_pct(found.probe, found.rate),
            "%"),
        Row(SECTION, f"{case}: raw-socket probe TTFT error", ttft_error_ms(found.probe), "ms"),
    ]
    return result


async def run(quick: bool) -> list[Row]:
    repeats, seconds = (3, 0.5) if quick else (9, 1.5)
    result: list[Row] = []
    for protocol in PROTOCOLS:
        for rate in RATES:
            found = await measure(protocol, rate, tokens_for(rate, seconds if rate > 100 else 2 * seconds), repeats)
            result.extend(rows(found))
    return result
