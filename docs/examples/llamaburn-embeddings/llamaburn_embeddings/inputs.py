"""The embeddings form: which texts to embed, and how many go in one request.

LlamaBurn renders this model as the tab's form (a list becomes a one-per-line text area, an int a number
field) and validates it for the CLI and the API, so the fields' descriptions and limits are the help text.
"""

from __future__ import annotations

from llamaburn.plugin import Inputs
from pydantic import Field, model_validator

DEFAULT_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors so that similar meanings land close together.",
    "A benchmark that runs once tells you little; run it several times and look at the spread.",
    "Local models keep your data on your own machine.",
    "Batching requests trades latency for throughput.",
    "Ollama and llama.cpp both serve embedding models over HTTP.",
    "Retrieval-augmented generation embeds a query and searches for its nearest documents.",
    "Cosine similarity compares the direction of two vectors, not their length.",
)

# Generated texts are made of these words, rotated per text so that no two texts are the same.
VOCABULARY = (
    "model", "vector", "token", "batch", "server", "latency", "memory", "cache", "layer", "query", "document",
    "search", "index", "embed", "local", "throughput", "measure", "sample", "context", "weight", "tensor",
    "prompt", "answer", "score", "nearest",
)


class EmbeddingsInputs(Inputs):
    """One iteration embeds the whole corpus (the texts, or the generated ones), ``batch_size`` per request."""

    texts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TEXTS),
        description="The texts to embed, one per line; ignored when 'Generated count' is above 0.",
    )
    generated_count: int = Field(
        0, ge=0, le=100_000, description="Embed this many generated texts instead of the texts above (0: off)."
    )
    generated_words: int = Field(64, ge=1, le=8_192, description="Words in each generated text.")
    batch_size: int = Field(8, ge=1, le=4_096, description="Texts sent in one request.")

    @model_validator(mode="after")
    def _has_texts(self) -> EmbeddingsInputs:
        if self.generated_count == 0:
            if not self.texts:
                raise ValueError("texts: give at least one text, or a generated count above 0")
            if any(not text.strip() for text in self.texts):
                raise ValueError("texts: a text is empty")
        return self

    def corpus(self) -> list[str]:
        """The texts one iteration embeds, in order: the same every iteration, so iterations compare."""
        if self.generated_count == 0:
            return list(self.texts)
        size = len(VOCABULARY)
        return [
            " ".join(VOCABULARY[(index + word) % size] for word in range(self.generated_words))
            for index in range(self.generated_count)
        ]

    def batches(self) -> list[list[str]]:
        """The corpus cut into requests of ``batch_size`` texts; the last one may be smaller."""
        texts = self.corpus()
        return [texts[first : first + self.batch_size] for first in range(0, len(texts), self.batch_size)]
