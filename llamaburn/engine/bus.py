"""A small asyncio event bus whose publish never waits.

The runner publishes from inside the measurement loop, so ``publish`` only appends to each
subscriber's unbounded queue. A slow subscriber (a browser, a database, a terminal) falls behind on its
own queue and never delays the next token's timestamp.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from llamaburn.engine.events import TERMINAL_TYPES, Event


class Subscription:
    """One subscriber's view of the bus: an async iterator that ends after a terminal event."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def _put(self, event: Event | None) -> None:
        self._queue.put_nowait(event)

    def drain(self) -> list[Event]:
        """Everything queued now, without waiting: for consumers that batch, like the UI's timer."""
        events = []
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event is not None:
                events.append(event)
        return events

    def close(self) -> None:
        """Stop listening; events published afterwards are not queued for this subscriber."""
        self._bus._unsubscribe(self)
        self._put(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event
            if event.type in TERMINAL_TYPES:
                return


class EventBus:
    """Fan-out of run events to any number of subscribers, each with its own queue."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.history: list[Event] = []

    def subscribe(self, replay: bool = False) -> Subscription:
        """Listen from now on or, with ``replay``, from the first event: for a client that joins late."""
        subscription = Subscription(self)
        if replay:
            for event in self.history:
                subscription._put(event)
        self._subscriptions.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, event: Event) -> None:
        self.history.append(event)
        for subscription in self._subscriptions:
            subscription._put(event)
