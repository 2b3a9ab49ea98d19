"""A sweep's context depth: filler text of about N tokens that a modality puts before its prompt.

The count is an estimate (one short common English word is one token in the BPE vocabularies of Llama,
Qwen and Gemma, leading space included), recorded as such in each cell (``depth_source``); the server's
own ``prompt_tokens`` in every request's metrics says what it really processed. What keeps the context
from the prompt cache is the text modality's ``cache_mode`` (cold by default).
"""

from __future__ import annotations

WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "to", "see", "what", "was", "new")
MAX_DEPTH = 1_000_000


def context_text(tokens: int) -> str:
    """About ``tokens`` tokens of plain words, the same for a given depth."""
    return " ".join(WORDS[index % len(WORDS)] for index in range(tokens))
