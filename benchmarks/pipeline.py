"""3. Pipeline ceiling: how many tokens a second the engine carries from HTTP parsing to the store.

The blast server writes a whole pre-rendered answer at once, so the client is the only limit. Each repeat
is one ``Run`` with a ``Recorder`` on a SQLite file, alone or with a live-panel-like subscriber (it drains
its subscription on a 10 Hz timer, joins the iteration's text and serialises it as a UI update would),
or with the CLI's own progress printer writing to /dev/null.

Two rates per repeat: ``tps``, LlamaBurn's own decode rate (first to last token, the parse-and-publish
loop), and the end-to-end rate, tokens / (start of ``execute()`` until the recorder has committed the
iteration and the run's final state): the rate it sustains into the store, with every subscriber
sharing the event loop. (The live panel's last 10 Hz tick is not counted: it is a timer, not a backlog.)

The event loop's lag is measured during a paced 2,000 tok/s stream with the live-panel subscriber on.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.clients import PROTOCOLS, Protocol, Request, backend_for, llamaburn_run, temp_store, text_modality
from benchmarks.common import Row, Stat
from benchmarks.servers import MODEL, ROOT, blast_server, fake_server
from llamaburn.cli.terminal import show_progress
from llamaburn.engine.bus import Subscription
from llamaburn.engine.events import TERMINAL_TYPES, IterationStart, Token, Warmup
from llamaburn.engine.metrics import percentile

SECTION = "3. Pipeline"
UI_REFRESH_S = 0.1  # llamaburn/ui/live.py's REFRESH_S
CEILING_BAR = 20_000
LAG_BAR_MS = 50.0


async def live_panel(subscription: Subscription) -> None:
    """What ``ui.live.LivePanel.refresh`` does per tick, minus NiceGUI: drain, apply, join, serialise."""
    text: list[str] = []
    while True:
        await asyncio.sleep(UI_REFRESH_S)
        events = subscription.drain()
        for event in events:
            if isinstance(event, Warmup | IterationStart):
                text = []
            elif isinstance(event, Token):
                text.append(event.text)
        if events:
            json.dumps({"id": 1, "props": {"text": "".join(text)}})  # the element update sent to the browser
        if any(event.type in TERMINAL_TYPES for event in events):
            subscription.close()
            return


async def cli_progress(subscription: Subscription) -> None:
    """``llamaburn bench``'s progress printer (one write and flush per token), into /dev/null."""
    with open(os.devnull, "w") as sink:
        await show_progress(subscription, sink, text_modality().metrics)


Subscribers = tuple[Callable[[Subscription], Any], ...]
CASES: dict[str, Subscribers] = {"bus + recorder": (), "+ live-panel subscriber": (live_panel,),
                                 "+ CLI progress to /dev/null": (cli_progress,)}


async def ceiling(protocol: Protocol, tokens: int, repeats: int, subscribers: Subscribers) -> tuple[Stat, Stat]:
    """LlamaBurn's decode rate and its end-to-end rate (tokens/s) over ``repeats`` runs of one answer each."""
    request = Request(model=MODEL, prompt="blast", max_tokens=tokens)
    decode, end_to_end = [], []
    with blast_server(tokens) as server:
        backend, store = backend_for(protocol, server.url), temp_store()
        try:
            await llamaburn_run(backend, request, store, subscribers=subscribers)  # warm
            for _ in range(repeats):
                marks: dict[str, float] = {}
                started = time.perf_counter()
                run = await llamaburn_run(backend, request, store, subscribers=subscribers, marks=marks)
                end_to_end.append(tokens / (marks["recorded"] - started))
                decode.append(run.iterations[0]["tps"])
        finally:
            await backend.aclose()
    return Stat.of(decode), Stat.of(end_to_end)


async def lag_during_stream(protocol: Protocol, rate: float, seconds: float, repeats: int) -> tuple[Stat, Stat, Stat]:
    """p99 and max event-loop lag (ms) while a paced stream runs with the live-panel subscriber; and its TPS."""
    tokens = round(rate * seconds)
    request = Request(model=MODEL, prompt="lag", max_tokens=tokens)
    p99s, maxima, rates = [], [], []
    loop = asyncio.get_running_loop()
    with fake_server(tokens=tokens, tokens_per_s=rate) as server:
        backend, store = backend_for(protocol, server.url), temp_store()
        try:
            await llamaburn_run(backend, request, store, subscribers=(live_panel,))
            for _ in range(repeats):
                lags: list[float] = []
                done = asyncio.Event()

                async def monitor(lags: list[float] = lags, done: asyncio.Event = done) -> None:
                    interval = 0.005
                    while not done.is_set():
                        before = loop.time()
                        await asyncio.sleep(interval)
                        lags.append(max(0.0, loop.time() - before - interval) * 1000)

                watcher = asyncio.ensure_future(monitor())
                run = await llamaburn_run(backend, request, store, subscribers=(live_panel,))
                done.set()
                await watcher
                p99s.append(percentile(lags, 99))
                maxima.append(max(lags))
                rates.append(run.iterations[0]["tps"])
        finally:
            await backend.aclose()
    return Stat.of(p99s), Stat.of(maxima), Stat.of(rates)


def real_ui(tokens: int, repeats: int, lag_s: float) -> dict[str, Any]:
    """benchmarks/ui_user.py's figures: the app's real page and LivePanel, driven by NiceGUI's ``user``."""
    with tempfile.TemporaryDirectory(prefix="llamaburn-ui-bench-") as directory:
        out = Path(directory) / "ui.json"
        env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
        env.update(LLAMABURN_UI_BENCH_OUT=str(out), LLAMABURN_UI_BENCH_TOKENS=str(tokens),
                   LLAMABURN_UI_BENCH_REPEATS=str(repeats), LLAMABURN_UI_BENCH_LAG_S=str(lag_s),
                   LLAMABURN_DB_URL=f"sqlite:///{Path(directory) / 'history.db'}")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "nicegui.testing.user_plugin",
                   "benchmarks/ui_user.py"]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"benchmarks/ui_user.py failed:\n{result.stdout[-3000:]}")
        data: dict[str, Any] = json.loads(out.read_text())
        return data


def _stat(data: dict[str, Any]) -> Stat:
    return Stat(**data)


async def run(quick: bool) -> list[Row]:
    tokens, repeats = (20_000, 3) if quick else (100_000, 7)
    result: list[Row] = []
    for protocol in PROTOCOLS:
        for case, subscribers in CASES.items():
            decode, end_to_end = await ceiling(protocol, tokens, repeats, subscribers)
            gated = case != "+ CLI progress to /dev/null"
            bar = f">= {CEILING_BAR:,} tok/s" if gated else ""
            name = f"{protocol}, {tokens:,} tokens, {case}"
            result.append(Row(SECTION, f"{name}: decode rate (LlamaBurn TPS)", decode, "tok/s", bar,
                              decode.median >= CEILING_BAR if gated else None))
            result.append(Row(SECTION, f"{name}: end-to-end rate incl. store", end_to_end, "tok/s", bar,
                              end_to_end.median >= CEILING_BAR if gated else None))
    for protocol in PROTOCOLS:
        p99, maximum, rate = await lag_during_stream(protocol, 2_000, 2.0 if quick else 5.0, 2 if quick else 5)
        name = f"{protocol}, 2,000 tok/s stream + live-panel subscriber"
        result.append(Row(SECTION, f"{name}: event-loop lag p99", p99, "ms", f"< {LAG_BAR_MS:g} ms",
                          p99.median < LAG_BAR_MS))
        result.append(Row(SECTION, f"{name}: event-loop lag max", maximum, "ms"))
        result.append(Row(SECTION, f"{name}: measured TPS", rate, "tok/s"))
    ui = await asyncio.to_thread(real_ui, tokens // 2, repeats, 2.0 if quick else 5.0)
    name = f"ollama, {ui['ceiling']['tokens']:,} tokens, real app page + LivePanel (NiceGUI user simulation)"
    for key, label in (("decode", "decode rate (LlamaBurn TPS)"), ("end_to_end", "click to stored, rate")):
        stat = _stat(ui["ceiling"][key])
        result.append(Row(SECTION, f"{name}: {label}", stat, "tok/s", f">= {CEILING_BAR:,} tok/s",
                          stat.median >= CEILING_BAR))
    name = "ollama, 2,000 tok/s stream, real app page + LivePanel (NiceGUI user simulation)"
    lag = _stat(ui["lag"]["p99"])
    result.append(Row(SECTION, f"{name}: event-loop lag p99", lag, "ms", f"< {LAG_BAR_MS:g} ms",
                      lag.median < LAG_BAR_MS))
    result.append(Row(SECTION, f"{name}: event-loop lag max", _stat(ui["lag"]["max"]), "ms"))
    result.append(Row(SECTION, f"{name}: measured TPS", _stat(ui["lag"]["tps"]), "tok/s"))
    return result
