"""What llama.cpp's own server (``llama-server``) says about itself and its model, as ``ModelInfo`` fields.

``/v1/models`` gives each model a ``meta`` object (``n_params``, ``size``, ``ftype``, ``n_ctx_train``...) and
``/props`` the server's setup (``model_path``, ``total_slots``, ``modalities``, ``chat_template``,
``build_info``). Other OpenAI-compatible servers (vLLM, LM Studio, llama-cpp-python) send neither, and every
reader here then returns what it has: nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llamaburn.backends.gguf import GGUFError, read_gguf, size_label

SIZES = {"Small": "S", "Medium": "M", "Large": "L"}


def quantization_name(ftype: Any) -> str | None:
    """llama.cpp's file type name as quantizations are usually written: ``"Q4_K - Medium"`` is ``Q4_K_M``,
    ``"IQ2_XXS - 2.0625 bpw"`` is ``IQ2_XXS``, and ``"Q8_0"`` stays ``Q8_0``."""
    if not isinstance(ftype, str) or not ftype.strip():
        return None
    name, _, detail = (part.strip() for part in ftype.partition(" - "))
    return f"{name}_{SIZES[detail]}" if detail in SIZES else name.removeprefix("all ")


def meta_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``ModelInfo`` fields of a ``/v1/models`` entry's ``meta``; ``context_length`` is the training
    context (``n_ctx_train``), what the model can take, not the server's ``-c`` setting."""
    context = meta.get("n_ctx_train")
    return {
        "parameter_size": size_label(meta.get("n_params")),
        "quantization": quantization_name(meta.get("ftype")),
        "context_length": context if isinstance(context, int) and not isinstance(context, bool) else None,
        "format": "gguf" if meta else None,
    }


def _count(value: Any) -> int | None:
    """A positive JSON integer, else ``None`` (``true`` is not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def props_facts(props: dict[str, Any]) -> dict[str, Any]:
    """The ``ModelInfo`` fields of ``/props``: slots, the context one request can hold (``n_ctx`` of
    ``default_generation_settings``: the server's ``-c`` shared among its ``-np`` slots, often far under the
    training context), what the server takes beyond text, and whether it has a chat template (llama-server
    falls back to a ChatML-like one when the GGUF has none: the GGUF header, read where ``model_path`` is a
    local file, then says which)."""
    settings = props.get("default_generation_settings")
    modalities = props.get("modalities")
    extra = sorted(name for name, on in modalities.items() if on is True) if isinstance(modalities, dict) else []
    slots = props.get("total_slots")
    template = props.get("chat_template")
    return {
        "slots": _count(slots),
        "slot_context": _count(settings.get("n_ctx")) if isinstance(settings, dict) else None,
        "capabilities": ["completion", *extra] if props else [],
        "chat_template": bool(template) if isinstance(template, str) else None,
    }


def model_modalities(props: dict[str, Any]) -> frozenset[str] | None:
    """What the loaded model takes, from ``/props`` ``modalities`` (``{"vision": true, "audio": false}``), with
    ``"chat"``; ``None`` when ``/props`` has no such object (an older build, another server)."""
    modalities = props.get("modalities")
    if not isinstance(modalities, dict):
        return None
    return frozenset({"chat", *(name for name, on in modalities.items() if on is True)})


def build_version(props: dict[str, Any]) -> str | None:
    """The run's ``backend_version``: ``llama.cpp <build_info>`` (``b6000-0123abc``), ``None`` when not said."""
    build = props.get("build_info")
    return f"llama.cpp {build}" if isinstance(build, str) and build.strip() else None


def local_gguf(props: dict[str, Any]) -> dict[str, Any]:
    """The GGUF header's fields when ``/props`` ``model_path`` is a file on this machine (a local server), with
    unknown values left out; ``{}`` for a remote server or a file that cannot be read. Blocking: run it in
    a thread."""
    path = props.get("model_path")
    if not isinstance(path, str) or not path or not Path(path).is_file():
        return {}
    try:
        return {name: value for name, value in read_gguf(Path(path)).items() if value is not None}
    except (GGUFError, OSError, ValueError):
        return {}
