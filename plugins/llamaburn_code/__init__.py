"""Code: generate code in a chosen language, timing the stream and checking that the result parses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field

from llamaburn.plugin import Inputs, Metric, Modality, hookimpl


class CodeInputs(Inputs):
    prompt: str = Field(
        "Write a function that returns the n-th Fibonacci number.", min_length=1,
        description="What code to write.",
        json_schema_extra={"multiline": True},
    )
    language: Literal["python", "javascript", "typescript", "rust", "go", "c", "cpp", "java"] = Field(
        "python", description="The language the answer must be written in."
    )


class CodeModality(Modality):
    """Coming soon: syntax validity is the share of answers whose code block parses in ``language``."""

    name = "code"
    label = "Code"
    inputs = CodeInputs
    metrics = (
        Metric(name="tps", label="TPS", unit="tok/s", direction="higher"),
        Metric(name="ttft_ms", label="TTFT", unit="ms", direction="lower"),
        Metric(name="syntax_valid", label="Syntax validity", unit="%", direction="higher"),
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(CodeModality())
