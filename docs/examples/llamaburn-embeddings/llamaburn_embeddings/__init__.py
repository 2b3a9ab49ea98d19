"""llamaburn-embeddings: a LlamaBurn plugin that benchmarks embeddings throughput and batch latency.

LlamaBurn finds this module through the ``llamaburn`` entry point in ``pyproject.toml`` and calls its hook;
everything it needs from LlamaBurn comes from ``llamaburn.plugin``, the public plugin API.
"""

from __future__ import annotations

from collections.abc import Callable

from llamaburn.plugin import Modality, hookimpl

from llamaburn_embeddings.modality import EmbeddingsModality


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(EmbeddingsModality())
