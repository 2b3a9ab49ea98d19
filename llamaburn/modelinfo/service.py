"""Merges what a model is from the server (``Backend.describe``: Ollama ``/api/show`` and ``/api/ps``, the
embedded backend's GGUF file) and Hugging Face, caching each answer in the history database for
``CACHE_TTL``, so a model is never asked about twice within it.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from llamaburn.backends.base import Backend
from llamaburn.modelinfo.huggingface import fetch_hf, hf_repo_for
from llamaburn.modelinfo.info import ModelInfo
from llamaburn.storage.store import Store

CACHE_TTL = timedelta(hours=24)


class ModelInfoService:
    """Merges the sources for a model on a backend, caching each answer in the history database."""

    def __init__(self, store: Store | None, client: httpx.AsyncClient | None = None) -> None:
        """``store`` None: no cache (``llamaburn bench --no-save`` writes nothing to the database)."""
        self.store = store
        self.client = client or httpx.AsyncClient()

    async def get(self, backend: Backend, model: str) -> ModelInfo:
        key = f"{backend.url}|{model}"
        cached = self.store.cached_model_info(key, CACHE_TTL) if self.store else None
        if cached is not None:
            return ModelInfo.model_validate(cached)
        info = ModelInfo(model_id=model)
        facts = await backend.describe(model)
        info.merge(facts.source, **facts.fields)
        if repo := info.hf_repo or hf_repo_for(model):
            info.merge("huggingface", **await fetch_hf(repo, self.client))
        if self.store:
            self.store.cache_model_info(key, info.model_dump(mode="json"))
        return info

    async def aclose(self) -> None:
        await self.client.aclose()
