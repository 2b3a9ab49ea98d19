"""The hooks a LlamaBurn plugin can implement. Each hands the plugin a ``register`` callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("llamaburn")
hookimpl = pluggy.HookimplMarker("llamaburn")


@hookspec
def register_modalities(register: Callable[[Any], None]) -> None:
    """Register Modality instances: ``register(TextModality())``."""


@hookspec
def register_backends(register: Callable[[Any], None]) -> None:
    """Register Backend classes: ``register(OllamaBackend)``."""
