"""What a sweep's server can take, asked before the sweep sends a benchmark request: the context a request
can hold (a depth at or beyond it is refused) and its declared slots (concurrency above them is allowed, but
the streams past the slots queue, and each such cell says so)."""

from __future__ import annotations

from dataclasses import dataclass

from llamaburn.backends.base import Backend
from llamaburn.errors import InputsError


@dataclass(frozen=True, slots=True)
class Capacity:
    """A model on a server: the context one request can hold, in tokens, and the server's slots (llama-server's
    ``/props`` ``total_slots``), each ``None`` when the server does not say; ``source`` is who said, and
    ``context_is`` what the context is (the model's training context, or the server's per slot)."""

    model: str
    context_length: int | None
    slots: int | None
    source: str
    context_is: str = "the context length"


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def capacity_of(backend: Backend, model: str) -> Capacity:
    """What ``backend.describe`` says of ``model`` (Ollama's ``/api/show``, llama-server's ``/props`` and
    model ``meta``). The limit is the smaller of the model's context and what the server gives a request
    (llama-server's ``-c`` over its slots): a server started with ``-c 4096`` refuses a prompt of 8k tokens
    whatever the model was trained on."""
    facts = await backend.describe(model)
    trained, per_slot = _count(facts.fields.get("context_length")), _count(facts.fields.get("slot_context"))
    slots = _count(facts.fields.get("slots"))
    if per_slot is not None and (trained is None or per_slot < trained):
        return Capacity(model, per_slot, slots, facts.source, "the server's context per slot")
    return Capacity(model, trained, slots, facts.source)


def refuse_depth(capacity: Capacity, depth: int) -> None:
    """``InputsError`` at ``("depth",)`` when ``depth`` tokens leave no room in the context for the prompt
    and the answer; nothing is refused where the context length is unknown."""
    limit = capacity.context_length
    if limit is not None and depth >= limit:
        raise InputsError([(("depth",), f"{depth:,} tokens is beyond {capacity.context_is} of {capacity.model} "
                                        f"({limit:,} tokens, as {capacity.source} says): pick depths under it")])


def queued_streams(capacity: Capacity, concurrency: int) -> int:
    """How many of ``concurrency`` streams wait for a slot: 0 where the server declares no slots."""
    return max(0, concurrency - capacity.slots) if capacity.slots is not None else 0


def queueing_warning(capacity: Capacity, concurrency: int) -> str | None:
    """The line every face shows for a cell whose streams outnumber the server's slots."""
    queued = queued_streams(capacity, concurrency)
    if not queued:
        return None
    slots = f"{capacity.slots} slot{'s' if capacity.slots != 1 else ''}"
    return (f"concurrency {concurrency} is above the server's {slots}: {queued} of the streams "
            "queue for a slot, so their TTFT includes the wait")
