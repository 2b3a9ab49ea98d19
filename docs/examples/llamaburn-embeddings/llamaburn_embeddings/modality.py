"""The embeddings modality: how fast a server turns a corpus of texts into vectors.

One iteration embeds the whole corpus, one request per batch, in order, on one keep-alive connection.
Its metrics come from the per-batch latencies (``time.perf_counter`` around each request) and the server's
own input token counts. LlamaBurn's runner does the rest: warmups, iterations, events, cancel, the summary
over iterations, history and comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llamaburn.plugin import Inputs, Metric, Modality, Target, percentile

from llamaburn_embeddings.inputs import EmbeddingsInputs
from llamaburn_embeddings.protocols import Batch, embed, protocol_for

EMBEDDINGS_METRICS = (
    Metric(name="embeddings_per_s", label="Embeddings/s", unit="emb/s", direction="higher"),
    Metric(name="input_tokens_per_s", label="Input TPS", unit="tok/s", direction="higher"),
    Metric(name="batch_latency_ms_p50", label="Batch latency p50", unit="ms", direction="lower"),
    Metric(name="batch_latency_ms_p95", label="Batch latency p95", unit="ms", direction="lower"),
    Metric(name="total_ms", label="Total time", unit="ms", direction="lower"),
    # A property of the model, not a speed: it is stored so that runs of different models read right.
    # A Metric needs a direction; more dimensions hold more information per vector.
    Metric(name="dimension", label="Dimension", unit="", direction="higher"),
)


def batch_metrics(batches: list[Batch], total_s: float) -> dict[str, Any]:
    """One iteration's metrics from its answered batches and its wall-clock time (seconds).

    Rates divide by the time spent waiting on the server (the sum of batch latencies), so the plugin's own
    bookkeeping between requests does not count against the server. Input tokens are the server's count;
    if any batch came without one, the rate is unknown (``None``) rather than an undercount.
    """
    latencies_ms = [batch.latency_s * 1000 for batch in batches]
    server_s = sum(batch.latency_s for batch in batches)
    counts = [batch.input_tokens for batch in batches]
    input_tokens = None if None in counts else sum(count for count in counts if count is not None)
    texts = sum(batch.vectors for batch in batches)
    return {
        "embeddings_per_s": texts / server_s if server_s > 0 else None,
        "input_tokens_per_s": input_tokens / server_s if input_tokens is not None and server_s > 0 else None,
        "batch_latency_ms_p50": percentile(latencies_ms, 50),
        "batch_latency_ms_p95": percentile(latencies_ms, 95),
        "total_ms": total_s * 1000,
        "dimension": batches[0].dimension,
        "texts": texts,
        "batches": len(batches),
        "input_tokens": input_tokens,
    }


class EmbeddingsModality(Modality):
    name = "embeddings"
    label = "Embeddings"
    available = True
    inputs = EmbeddingsInputs
    metrics = EMBEDDINGS_METRICS

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, EmbeddingsInputs)
        batches = inputs.batches()
        texts = sum(len(batch) for batch in batches)
        count = f"{len(batches)} batch" if len(batches) == 1 else f"{len(batches)} batches"
        return f"embed {texts} texts in {count} of up to {inputs.batch_size}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        """Embed the corpus once, batch by batch, reporting each batch as a line of live output."""
        assert isinstance(inputs, EmbeddingsInputs)
        protocol_for(target.backend)  # an unsupported backend fails before the first request, not after it
        planned = inputs.batches()
        answered: list[Batch] = []
        started = time.perf_counter()
        for number, texts in enumerate(planned, start=1):
            batch = await embed(target.backend, target.model, texts)
            answered.append(batch)
            tokens = f", {batch.input_tokens} tokens" if batch.input_tokens is not None else ""
            on_text(
                f"batch {number}/{len(planned)}: {batch.vectors} x {batch.dimension}-d vectors"
                f"{tokens} in {batch.latency_s * 1000:.1f} ms\n"
            )
        return batch_metrics(answered, time.perf_counter() - started)
