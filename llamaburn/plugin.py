"""The public plugin API: everything a modality or backend plugin imports from LlamaBurn is here.

A minimal modality plugin::

    from llamaburn.plugin import Modality, hookimpl

    class MyModality(Modality):
        name = "x"
        label = "X"

    @hookimpl
    def register_modalities(register):
        register(MyModality())
"""

from llamaburn.backends.base import Backend, Breakdown, ChatRequest, Chunk, ModelEntry, ServerTimings
from llamaburn.engine.cache import apply_cache_mode, check_cache_mode
from llamaburn.engine.events import (
    Cancelled,
    Complete,
    Error,
    Event,
    IterationComplete,
    IterationStart,
    Token,
    Warmup,
    WarmupComplete,
)
from llamaburn.engine.metrics import Metric, measure_stream, percentile
from llamaburn.engine.modality import Artifact, Inputs, Modality, Target, cli_flag
from llamaburn.engine.vision import VISION_METRICS, Picture, VisionInputs, VisionModality
from llamaburn.errors import BackendError, ComingSoonError, ConfigError, InputsError, LlamaBurnError
from llamaburn.hookspecs import hookimpl
from llamaburn.storage.uploads import upload_path

__all__ = [
    "VISION_METRICS",
    "Artifact",
    "Backend",
    "BackendError",
    "Breakdown",
    "Cancelled",
    "ChatRequest",
    "Chunk",
    "ComingSoonError",
    "Complete",
    "ConfigError",
    "Error",
    "Event",
    "Inputs",
    "InputsError",
    "IterationComplete",
    "IterationStart",
    "LlamaBurnError",
    "Metric",
    "Modality",
    "ModelEntry",
    "Picture",
    "ServerTimings",
    "Target",
    "Token",
    "VisionInputs",
    "VisionModality",
    "Warmup",
    "WarmupComplete",
    "apply_cache_mode",
    "check_cache_mode",
    "cli_flag",
    "hookimpl",
    "measure_stream",
    "percentile",
    "upload_path",
]
