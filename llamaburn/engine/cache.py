"""Cold and warm prompt caches: a run measures one or the other, says which, and checks that it got it.

A server that keeps the last prompt in its KV cache skips the shared prefix, so a second identical request
has a shorter TTFT (50 ms cold, 31 ms warm on llama-server with Gemma 3 270M here). A run that mixed the
two would average them into a TTFT that is neither. ``cold`` defeats the cache on every request: with
llama.cpp's ``cache_prompt: false`` where the server takes it, else with a short unique nonce line before
the prompt, so the prompt differs from its first token on.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any, Literal

from llamaburn.backends.base import Backend, ChatRequest

CacheMode = Literal["cold", "warm"]
CacheMethod = Literal["cache_prompt", "nonce"]
NONCE_BYTES = 4  # 8 hex digits: a few tokens, and no two requests of a run alike


async def apply_cache_mode(
    backend: Backend, request: ChatRequest, mode: CacheMode, *, nonce_in_system: bool = False
) -> tuple[ChatRequest, CacheMethod | None]:
    """``request`` as ``mode`` wants it sent, and the method used to defeat the cache (``None``: warm, or a
    backend that declares no prompt cache). ``nonce_in_system`` puts the nonce first in the system message
    instead of the prompt: for a request with pictures, which Ollama places before the message's text."""
    if mode == "warm" or not backend.prompt_cache:
        return request, None
    if not backend.cache_prompt_ignored and await backend.takes_cache_prompt():
        return replace(request, cache_prompt=False), "cache_prompt"
    nonce = f"[{secrets.token_hex(NONCE_BYTES)}]"
    if nonce_in_system:
        return replace(request, system=f"{nonce}\n{request.system}" if request.system else nonce), "nonce"
    return replace(request, prompt=f"{nonce}\n{request.prompt}"), "nonce"


def check_cache_mode(
    backend: Backend, metrics: dict[str, Any], mode: CacheMode, method: CacheMethod | None
) -> dict[str, Any]:
    """The iteration's ``cache_method`` and ``cache_mode_held``: whether the server's cached count agrees
    with the mode (cold: a miss; warm: a hit), ``None`` when it does not report one.

    A server that took ``cache_prompt: false`` and still reported a hit ignores the flag: the backend is
    told, and its next cold requests carry a nonce instead.
    """
    outcome = metrics.get("prompt_cache", "unknown")
    if method == "cache_prompt" and outcome == "hit":
        backend.cache_prompt_ignored = True
    held = None if outcome == "unknown" else (outcome == "miss") == (mode == "cold")
    return {"cache_method": method, "cache_mode_held": held}
