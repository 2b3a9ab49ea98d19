"""A sweep's context depth: filler text of N tokens that a modality puts before its prompt.

Where the server has a tokenizer endpoint (llama-server's ``POST /tokenize``), the text is exactly N of the
server's own tokens: the filler is tokenized, cut at N ids and turned back into text, and that text is
counted again (``tokens``). Elsewhere the count is an estimate (one short common English word is one token
in the BPE vocabularies of Llama, Qwen and Gemma, leading space included), recorded as such in each cell
(``depth_source``); the server's own ``prompt_tokens`` in every request's metrics says what it really
processed. What keeps the context from the prompt cache is the text modality's ``cache_mode`` (cold by
default).
"""

from __future__ import annotations

from dataclasses import dataclass

from llamaburn.backends.base import Backend

WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "to", "see", "what", "was", "new")
MAX_DEPTH = 1_000_000


@dataclass(frozen=True, slots=True)
class Context:
    """The text put before each prompt, how many tokens it is, and who counted them: ``"tokenizer"`` (the
    server's) or ``"estimate"``."""

    text: str
    tokens: int
    source: str


def context_text(tokens: int) -> str:
    """About ``tokens`` tokens of plain words, the same for a given depth."""
    return " ".join(WORDS[index % len(WORDS)] for index in range(tokens))


async def context_of(backend: Backend, depth: int) -> Context:
    """``depth`` tokens of context by ``backend``'s own tokenizer, else the estimate."""
    words = depth
    ids = await backend.tokenize(context_text(words))
    if ids is None:
        return Context(context_text(depth), depth, "estimate")
    while len(ids) < depth:  # a word of this filler is one token or more, but a vocabulary may merge some
        words *= 2
        ids = await backend.tokenize(context_text(words)) or []
    text = await backend.detokenize(ids[:depth]) or ""
    return Context(text, len(await backend.tokenize(text) or []), "tokenizer")
