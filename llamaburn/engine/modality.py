"""What a modality plugin supplies: its name, its inputs form, its metric set and how to measure one request.

The core runner owns everything shared by all modalities (warmup, iterations, events, cancel, summary,
storage), so a modality only describes its inputs and measures a single request against a backend.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from llamaburn.backends.base import Backend
from llamaburn.engine.metrics import Metric
from llamaburn.errors import CapabilityError, ComingSoonError, ConfigError, InputsError, ModelCapabilityError

LOCAL_FILES = "local_files"
"""The validation context key (``{"local_files": True}``) that lets a file field (``upload_path``) name any
local file: ``parse_inputs`` sets it for the CLI only, so the API and the UI still take uploads alone."""
HEADLINE = 5
"""How many metrics, from the start of a modality's set, the faces show at a glance: the results cards, the
live iteration table, the CLI's progress lines and the comparison charts. The first one heads them all: it is
history's column, and the comparison adds its min and max."""


def cli_flag(flag: str, *, from_file: str | None = None) -> dict[str, Any]:
    """A field's command-line options, as ``Field(json_schema_extra=cli_flag("--max-tokens"))``: the CLI adds
    them for the modality, so no face names a field. ``from_file`` (a list field only) reads the list from a
    file, one item per non-blank line."""
    return {"cli": flag} | ({"cli_file": from_file} if from_file else {})


def single_item_aliases(inputs: type[BaseModel]) -> dict[str, str]:
    """For each list field whose declared option names one item (text's ``--prompt`` for ``prompts``), that
    option's name as a field name (``prompt``) -> the field: the API takes it for a one-item list, as the CLI
    takes the option."""
    aliases = {}
    for name, info in inputs.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        flag = extra.get("cli")
        alias = flag.lstrip("-").replace("-", "_") if isinstance(flag, str) else None
        if alias and alias != name and typing.get_origin(field_type(info)[0]) is list:
            aliases[alias] = name
    return aliases


class Inputs(BaseModel):
    """Fields every modality's form shares. A modality subclasses this to add its own inputs."""

    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(
        5, ge=1, le=10_000, description="Measured requests; they make the summary.",
        json_schema_extra=cli_flag("--iterations"),
    )
    warmup: int = Field(
        1, ge=0, le=100, description="Requests run first and left out of the summary.",
        json_schema_extra=cli_flag("--warmup"),
    )


class Artifact(BaseModel):
    """What each iteration made, for the live panel to show once the iteration completes: source text, with
    its language highlighted and a problem's line marked. Each ``*detail`` names a key of the dict that
    ``measure()`` returns, so the app shows a plugin's own details without knowing them."""

    model_config = ConfigDict(frozen=True)

    detail: str
    """The key whose value is the text: ``"code"``."""
    label: str = "Output"
    language_detail: str | None = None
    """The key naming the text's language for highlighting (``"python"``, ``"cpp"``...): Pygments' names."""
    error_line_detail: str | None = None
    """The key holding the 1-based line of the text's first problem, ``None`` when it has none."""
    error_label: str = "Error"


@dataclass(frozen=True, slots=True)
class Target:
    """The model under test: a started backend and the model id to ask it for."""

    backend: Backend
    model: str


def check_capabilities(modality: Modality, backend: type[Backend]) -> None:
    """Refuse, before any request, a backend that cannot do what ``modality`` needs."""
    missing = sorted(modality.requires - backend.capabilities)
    if missing:
        raise CapabilityError(
            f"{backend.label} has no {' or '.join(missing)} capability, which {modality.label} benchmarks "
            f"need: pick a backend that has it"
        )


MODEL_HINTS = {"vision": "pick a vision model such as gemma3, llava or qwen2.5vl"}
"""What to do about a model without a capability, by capability; others get a plain "pick a model that has it"."""


async def check_model_capabilities(modality: Modality, target: Target) -> None:
    """Refuse, before any chat request, a model that its server says cannot do what ``modality`` needs:
    ``llama3.1:8b has no vision capability: pick a vision model such as gemma3, llava or qwen2.5vl``.

    Asked only of modalities that need more than chat, so a text run sends no extra request; a server that
    does not say (``None``) is given the benefit of the doubt, and the request itself will tell.
    """
    if not modality.requires - {"chat"}:
        return
    capabilities = await target.backend.model_capabilities(target.model)
    missing = sorted(modality.requires - capabilities) if capabilities is not None else []
    if missing:
        hints = [MODEL_HINTS.get(name, "pick a model that has it") for name in missing]
        raise ModelCapabilityError(f"{target.model} has no {' or '.join(missing)} capability: {'; '.join(hints)}")


class Modality:
    """Base class of every benchmark type. ``available = False`` shows it as "Coming Soon"."""

    name: ClassVar[str]
    label: ClassVar[str]
    available: ClassVar[bool] = False
    inputs: ClassVar[type[Inputs]] = Inputs
    metrics: ClassVar[tuple[Metric, ...]] = ()
    requires: ClassVar[frozenset[str]] = frozenset({"chat"})
    """What a backend must be able to do for this modality (its ``capabilities``): "chat", "vision"..."""
    artifact: ClassVar[Artifact | None] = None
    """What the live panel shows of each completed iteration beyond its metrics; ``None``: only the text."""

    def prompt(self, inputs: Inputs, index: int) -> str:
        """What request ``index`` (0-based, warmups included) asks, as shown in ``iteration_start``."""
        return ""

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        """Send one request, pass streamed text to ``on_text`` as it arrives, and return its metrics."""
        raise ComingSoonError(f"{self.label} benchmarks are coming soon: only available modalities can run")

    def with_context(self, inputs: dict[str, Any], context: str) -> dict[str, Any]:
        """The raw ``inputs`` with ``context`` put before what each request asks: how a sweep's context
        depth lengthens the prompt. A modality with no prompt to lengthen keeps this refusal."""
        raise ConfigError(f"{self.label} benchmarks take no context depth: sweep them without --depth")

    def parse_inputs(self, data: dict[str, Any], *, as_json: bool = False, local_files: bool = False) -> Inputs:
        """Validate a form or command line into this modality's inputs; ``InputsError`` names each bad field
        by its path within the inputs (``("prompts", 0)``), so each face can point at it.

        Text from a command line converts (``"32"`` to an int field's 32). ``as_json`` validates JSON as JSON,
        strictly: an API client that sends ``0`` for a boolean or ``"5"`` for a number is told so.
        ``local_files`` (the CLI) lets a file field name a file on this machine, not only an upload.
        """
        context = {LOCAL_FILES: local_files}
        try:
            if as_json:
                return self.inputs.model_validate_json(json.dumps(data), strict=True, context=context)
            return self.inputs.model_validate(data, context=context)
        except ValidationError as exc:
            raise InputsError(_problems(exc)) from None


def field_type(info: FieldInfo) -> tuple[Any, bool]:
    """A form field's type without its ``| None``, and whether it had one: the app picks the input it renders,
    and the CLI whether ``--input`` repeats, by this type, so both read a field the same way."""
    annotation = info.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _problems(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for error in exc.errors():
        value = error.get("input")
        got = f" (got {value!r})" if not isinstance(value, dict) else ""
        problems.append((tuple(error["loc"]), f"{error['msg']}{got}"))
    return problems
