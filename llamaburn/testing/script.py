"""What a fake server answers to a chat request: a ``Script``, and the chunks it makes of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Script:
    """How the server answers chat requests. Fault positions count the token chunks sent before them."""

    tokens: list[str] | int = 10  # a count emits "t0 ", "t1 ", ...
    ttft_s: float = 0.0
    tokens_per_s: float | None = None  # None: every token is due at ttft_s
    tokens_per_chunk: int = 1
    thinking: list[str] | int = 0
    send_usage: bool = True  # OpenAI: only honoured when the request sets stream_options.include_usage
    prompt_tokens: int = 12  # all of them, cached ones included, as Ollama and OpenAI count
    cached_tokens: int | None = None  # served from the prompt cache; None: not reported. cache_prompt false: 0
    llama_cpp: bool = False  # OpenAI: act as llama-server (``timings``, ``/props``, model ``meta``, ``cache_prompt``)
    cache_prompt_honoured: bool = True  # False: a llama-server fork that ignores ``cache_prompt: false``
    cache_n: int | None = None  # llama.cpp ``timings.cache_n``, to disagree with ``cached_tokens`` on purpose
    thinking_field: str = "reasoning_content"  # OpenAI: the delta field thinking goes in (vLLM: "reasoning")
    reasoning_tokens: bool = False  # OpenAI: report usage.completion_tokens_details.reasoning_tokens
    load_s: float = 0.0
    status: int | None = None  # answer every chat request with this HTTP error
    retry_after: int | None = None
    error_message: str = "the fake server failed on purpose"
    error_after: int | None = None  # send an {"error": ...} object, then end the stream
    malformed_after: int | None = None  # send a line that is not JSON, then end the stream
    drop_after: int | None = None  # close the TCP connection mid-body
    no_done: bool = False  # end the body without Ollama's done chunk / OpenAI's [DONE]
    stall_s: float = 0.0
    stall_after: int = 0


@dataclass(frozen=True)
class Piece:
    """One chunk of an answer: thinking or content text, never both."""

    thinking: str
    content: str
    last_index: int  # index of the chunk's last token in the whole answer, for pacing


def _words(spec: list[str] | int, prefix: str) -> list[str]:
    return list(spec) if isinstance(spec, list) else [f"{prefix}{i} " for i in range(spec)]


def chunked(script: Script, limit: int | None) -> list[Piece]:
    """Thinking then content tokens, at most ``limit`` in all, in chunks that hold one kind each."""
    thinking = _words(script.thinking, "h")[:limit]
    content = _words(script.tokens, "t")[: None if limit is None else max(0, limit - len(thinking))]
    size, pieces = script.tokens_per_chunk, []
    for tokens, offset, is_thinking in ((thinking, 0, True), (content, len(thinking), False)):
        for first in range(0, len(tokens), size):
            text = "".join(tokens[first : first + size])
            last = offset + min(first + size, len(tokens)) - 1
            pieces.append(Piece(text if is_thinking else "", "" if is_thinking else text, last))
    return pieces
