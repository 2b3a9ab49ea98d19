"""Audio: transcribe a recording, timing it against the recording's own length (RTF), with WER and CER
against a reference transcript when one is given.

Modules: ``recording`` (decoding with PyAV), ``accuracy`` (normalisation, WER and CER with jiwer),
``inputs`` (the form), ``modality``.
"""

from __future__ import annotations

from collections.abc import Callable

from llamaburn.plugin import Modality, hookimpl

from .inputs import AudioInputs
from .modality import AudioModality

__all__ = ["AudioInputs", "AudioModality"]


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(AudioModality())
