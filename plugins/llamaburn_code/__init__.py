"""Code: generate code in a chosen language, timing the stream and checking that the result parses.

Modules: ``inputs`` (the form), ``tasks`` (the built-in suite), ``extraction`` (which part is code),
``syntax`` (tree-sitter and ``compile()``), ``sandbox`` (the optional functional check), ``modality``.
"""

from __future__ import annotations

from collections.abc import Callable

from llamaburn.plugin import Modality, hookimpl

from .inputs import CodeInputs
from .modality import CodeModality

__all__ = ["CodeInputs", "CodeModality"]


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(CodeModality())
