"""Plugins: every modality and backend, and every plugin that failed to load."""

from __future__ import annotations

from llamaburn.api.deps import Service
from llamaburn.api.routes import router
from llamaburn.engine.registry import PluginInfo


@router.get("/plugins", response_model=list[PluginInfo])
async def list_plugins(service: Service) -> list[PluginInfo]:
    """Every modality and backend, and every plugin that failed to load."""
    return service.registry.describe()
