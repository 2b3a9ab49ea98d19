"""A model's Hugging Face card: the repo its name maps to, and the card's downloads and license.

Hugging Face is optional: with no network it quietly contributes nothing.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import httpx

log = logging.getLogger(__name__)

HF_TIMEOUT_S = 3.0

# Ollama family (the name before ":" and any size) to the Hugging Face repo of its reference weights.
HF_REPOS: dict[str, str] = {
    "llama3.3:70b": "meta-llama/Llama-3.3-70B-Instruct",
    "llama3.2:1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama3.2:3b": "meta-llama/Llama-3.2-3B-Instruct",
    "llama3.2": "meta-llama/Llama-3.2-3B-Instruct",
    "llama3.1:8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.1:70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama3.1": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3:8b": "meta-llama/Meta-Llama-3-8B-Instruct",
    "llama3": "meta-llama/Meta-Llama-3-8B-Instruct",
    "gemma3:270m": "google/gemma-3-270m",
    "gemma3:1b": "google/gemma-3-1b-it",
    "gemma3:4b": "google/gemma-3-4b-it",
    "gemma3:12b": "google/gemma-3-12b-it",
    "gemma3:27b": "google/gemma-3-27b-it",
    "gemma3": "google/gemma-3-4b-it",
    "gemma-3-270m": "google/gemma-3-270m",
    "gemma2:2b": "google/gemma-2-2b-it",
    "gemma2:9b": "google/gemma-2-9b-it",
    "gemma2:27b": "google/gemma-2-27b-it",
    "gemma2": "google/gemma-2-9b-it",
    "qwen2.5:0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5:1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "qwen2.5:3b": "Qwen/Qwen2.5-3B-Instruct",
    "qwen2.5:7b": "Qwen/Qwen2.5-7B-Instruct",
    "qwen2.5:14b": "Qwen/Qwen2.5-14B-Instruct",
    "qwen2.5:32b": "Qwen/Qwen2.5-32B-Instruct",
    "qwen2.5": "Qwen/Qwen2.5-7B-Instruct",
    "qwen2.5-coder:7b": "Qwen/Qwen2.5-Coder-7B-Instruct",
    "qwen3:0.6b": "Qwen/Qwen3-0.6B",
    "qwen3:1.7b": "Qwen/Qwen3-1.7B",
    "qwen3:4b": "Qwen/Qwen3-4B",
    "qwen3:8b": "Qwen/Qwen3-8B",
    "qwen3:14b": "Qwen/Qwen3-14B",
    "qwen3:32b": "Qwen/Qwen3-32B",
    "qwen3": "Qwen/Qwen3-8B",
    "mistral:7b": "mistralai/Mistral-7B-Instruct-v0.3",
    "mistral": "mistralai/Mistral-7B-Instruct-v0.3",
    "mistral-nemo": "mistralai/Mistral-Nemo-Instruct-2407",
    "phi3:mini": "microsoft/Phi-3-mini-4k-instruct",
    "phi3": "microsoft/Phi-3-mini-4k-instruct",
    "phi3.5": "microsoft/Phi-3.5-mini-instruct",
    "phi4": "microsoft/phi-4",
    "phi4-mini": "microsoft/Phi-4-mini-instruct",
    "deepseek-r1:1.5b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
    "deepseek-r1:7b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
    "deepseek-r1:8b": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    "deepseek-r1:14b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
    "deepseek-r1:32b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
    "deepseek-r1:70b": "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
    "deepseek-r1": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
}
_QUANT_SUFFIX = re.compile(r"-(?:instruct-)?(?:q\d\w*|fp16|bf16|f16|f32)$", re.IGNORECASE)


def hf_repo_for(model_id: str) -> str | None:
    """The Hugging Face repo of a model name: the mapping table first, then a heuristic.

    ``llama3.1:8b-instruct-q4_K_M`` -> ``llama3.1:8b`` -> table; ``org/name`` ids are repos already.
    """
    name = model_id.strip().lower().removeprefix("hf.co/").removesuffix(":latest")
    if "/" in model_id and ":" not in model_id:
        return model_id
    base, _, tag = name.partition(":")
    size = _QUANT_SUFFIX.sub("", tag).split("-")[0] if tag else ""
    for candidate in (f"{base}:{size}" if size else base, base):
        if candidate in HF_REPOS:
            return HF_REPOS[candidate]
    return None


async def fetch_hf(repo: str, client: httpx.AsyncClient) -> dict[str, Any]:
    """The model card's numbers, or ``{}`` when Hugging Face cannot be reached or does not know the repo."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    token = os.environ.get("HF_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await client.get(f"{endpoint}/api/models/{repo}", headers=headers, timeout=HF_TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.debug("Hugging Face not available for %s: %s", repo, exc)
        return {}
    if response.status_code != 200:
        log.debug("Hugging Face has no %s (HTTP %s)", repo, response.status_code)
        return {}
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON: a captive portal or a proxy answering 200 with HTML
        data = None
    if not isinstance(data, dict):
        log.debug("Hugging Face answered for %s with something that is not a model card", repo)
        return {}
    return _card_fields(repo, data)


def _card_fields(repo: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``ModelInfo`` fields of a Hugging Face model answer, each only when it has the expected type."""
    tags = data.get("tags")
    license_tag = next(
        (
            tag.removeprefix("license:")
            for tag in (tags if isinstance(tags, list) else [])
            if isinstance(tag, str) and tag.startswith("license:")
        ),
        None,
    )
    card = data.get("cardData")
    repo_id, downloads = data.get("id"), data.get("downloads")
    card_license = card.get("license") if isinstance(card, dict) else None
    return {
        "hf_repo": repo_id if isinstance(repo_id, str) and repo_id else repo,
        "hf_downloads": downloads if type(downloads) is int else None,
        "license": card_license if isinstance(card_license, str) and card_license else license_tag,
    }
