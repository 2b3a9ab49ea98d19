from __future__ import annotations

import asyncio
import json

from llamaburn.engine.bus import EventBus
from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    IterationComplete,
    IterationStart,
    Token,
    Warmup,
    parse_event,
)


def test_events_serialise_to_the_spec_json() -> None:
    assert Warmup(current=1, total=2, prompt="p").model_dump() == {
        "type": "warmup", "current": 1, "total": 2, "prompt": "p"}
    assert IterationStart(iteration=2, total=5, prompt="p").model_dump() == {
        "type": "iteration_start", "iteration": 2, "total": 5, "prompt": "p"}
    assert Token(text="The").model_dump() == {"type": "token", "text": "The", "thinking": False, "at_ms": None}
    assert IterationComplete(iteration=1, metrics={"tps": 1.5}).model_dump() == {
        "type": "iteration_complete", "iteration": 1, "metrics": {"tps": 1.5}}
    assert Complete(summary={"tps": {"mean": 1.0}}).model_dump() == {"type": "complete",
                                                                     "summary": {"tps": {"mean": 1.0}}}
    assert Cancelled().model_dump() == {"type": "cancelled"}
    assert Error(message="boom").model_dump() == {"type": "error", "message": "boom"}


def test_events_parse_back_from_json() -> None:
    event = parse_event(json.dumps({"type": "token", "text": " concept"}))
    assert event == Token(text=" concept")
    assert parse_event({"type": "cancelled"}) == Cancelled()


async def test_every_subscriber_sees_every_event_and_stops_after_a_terminal_one() -> None:
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    for event in (Warmup(current=1, total=1, prompt="p"), Token(text="a"), Complete(summary={}), Token(text="late")):
        bus.publish(event)
    seen_first = [e.type async for e in first]
    seen_second = [e.type async for e in second]
    assert seen_first == seen_second == ["warmup", "token", "complete"]


async def test_a_slow_subscriber_never_blocks_publish() -> None:
    bus = EventBus()
    slow = bus.subscribe()
    consumed: list[str] = []

    async def consume() -> None:
        async for event in slow:
            await asyncio.sleep(0.01)  # a subscriber far slower than the producer
            consumed.append(event.type)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)  # the subscriber is waiting on its queue
    for _ in range(10_000):
        bus.publish(Token(text="x"))
    bus.publish(Complete(summary={}))
    # publish returned 10,001 times without letting the subscriber run once: everything waits in its queue
    assert consumed == [] and len(slow.drain()) == 10_001
    task.cancel()


async def test_closed_subscription_ends_and_gets_nothing_more() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    bus.publish(Token(text="a"))
    subscription.close()
    bus.publish(Token(text="b"))
    assert [e async for e in subscription] == [Token(text="a")]


async def test_late_subscriber_can_replay_the_run_so_far() -> None:
    bus = EventBus()
    bus.publish(Warmup(current=1, total=1, prompt="p"))
    bus.publish(Token(text="a"))
    late = bus.subscribe(replay=True)
    bus.publish(Complete(summary={}))
    assert [e.type async for e in late] == ["warmup", "token", "complete"]


def test_drain_takes_what_is_queued_without_waiting() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    assert subscription.drain() == []
    bus.publish(Token(text="a"))
    bus.publish(Token(text="b"))
    assert subscription.drain() == [Token(text="a"), Token(text="b")]
    assert subscription.drain() == []
