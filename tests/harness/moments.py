"""Time in tests, without guessing: the exact moments of a run, hooked on the engine's own events, and
``until`` for what only a poll can see (a page's text, a row the recorder writes in its thread)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from llamaburn.engine.bus import EventBus
from llamaburn.engine.events import Event, IterationComplete, IterationStart, Token, Warmup
from llamaburn.engine.runner import Run


def _phase(history: list[Event]) -> tuple[str, int] | None:
    for event in reversed(history):
        if isinstance(event, Warmup):
            return ("warmup", event.current)
        if isinstance(event, IterationStart):
            return ("iteration", event.iteration)
    return None


Moment = Callable[[list[Event], Event], bool]
MOMENTS: dict[str, Moment] = {
    # The first token of the warmup has arrived: the warmup request is in flight.
    "warmup": lambda history, event: isinstance(event, Token) and _phase(history) == ("warmup", 1),
    # The first token of iteration 2 has arrived: iteration 2 is in flight, iteration 1 is complete.
    "iteration": lambda history, event: isinstance(event, Token) and _phase(history) == ("iteration", 2),
    # Iteration 1 is complete and iteration 2 has not been asked for yet.
    "between": lambda history, event: isinstance(event, IterationComplete) and event.iteration == 1,
}


class Moments:
    """Runs an action the moment the engine publishes a chosen event, inside the publishing task."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._pending: list[tuple[Moment, Callable[[Run], None]]] = []

    def at(self, moment: str, action: Callable[[Run], None]) -> None:
        self._pending.append((MOMENTS[moment], action))

    def _published(self, bus: EventBus, event: Event) -> None:
        for entry in list(self._pending):
            when, action = entry
            if when(bus.history, event):
                self._pending.remove(entry)
                action(next(run for run in self.runs if run.bus is bus))


def hook_moments(monkeypatch: pytest.MonkeyPatch) -> Moments:
    """Every ``Run`` made and every event published from now on (until ``monkeypatch`` undoes it) reach the
    returned ``Moments``: whichever face starts the run, in-process."""
    hooks = Moments()
    publish, init = EventBus.publish, Run.__init__

    def publish_and_hook(bus: EventBus, event: Event) -> None:
        publish(bus, event)
        hooks._published(bus, event)

    def init_and_remember(run: Run, *args: Any, **kwargs: Any) -> None:
        init(run, *args, **kwargs)
        hooks.runs.append(run)

    monkeypatch.setattr(EventBus, "publish", publish_and_hook)
    monkeypatch.setattr(Run, "__init__", init_and_remember)
    return hooks


def cancel(run: Run) -> None:
    run.cancel()  # what the CLI's Ctrl-C handler, the API's cancel endpoint and the UI's Cancel button call


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll ``condition``; an element not on the page yet (``find`` raises) counts as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except (AssertionError, LookupError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
