"""docs/plugins.md is tested, datasette style: every hook in ``llamaburn.hookspecs`` is documented with its
exact signature (found by introspection, so a new hook without docs fails here), and every complete plugin
file the guide shows is run: it loads, registers, and measures against a fake server.

A complete file is a fenced block introduced by a line that names it and ends with a colon
("`llamaburn_x.py`:"); the block is executed as that module, and ``test_*.py`` blocks are run as tests.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import pytest

from llamaburn import hookspecs, plugin
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.engine.registry import load_registry
from llamaburn.engine.runner import Run
from llamaburn.plugin import Target
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"
SCREEN_LINES = 45


@dataclass(frozen=True)
class Block:
    language: str
    file: str | None  # the file the line before the block names, if any
    code: str


def blocks(markdown: str) -> list[Block]:
    found, lines = [], markdown.splitlines()
    for start, line in enumerate(lines):
        if line.startswith("```") and line != "```":
            end = lines.index("```", start + 1)
            intro = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
            named = re.search(r"`([\w.]+)`[^`]*:$", intro)
            found.append(Block(line[3:], named.group(1) if named else None, "\n".join(lines[start + 1 : end]) + "\n"))
    return found


def section(markdown: str, heading: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def hook_signatures() -> dict[str, str]:
    """Every hook pluggy knows in ``llamaburn.hookspecs`` (the marker sets ``llamaburn_spec``), with its
    signature as a plugin writes it: ``register_modalities(register)``."""
    return {
        name: f"{name}({', '.join(inspect.signature(function).parameters)})"
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, "llamaburn_spec")
    }


TEXT = DOCS.read_text()
BLOCKS = blocks(TEXT)
FILES = {block.file: block for block in BLOCKS if block.file}


def test_introspection_finds_the_hooks_pluggy_finds() -> None:
    manager = pluggy.PluginManager("llamaburn")
    manager.add_hookspecs(hookspecs)
    assert set(hook_signatures()) == {name for name in vars(manager.hook) if not name.startswith("_")}
    assert hook_signatures()["register_modalities"] == "register_modalities(register)"


@pytest.mark.parametrize("hook", sorted(hook_signatures()))
def test_every_hook_has_a_reference_heading_with_its_exact_signature(hook: str) -> None:
    heading = f"### `{hook_signatures()[hook]}`"
    assert heading in section(TEXT, "## Hook reference"), f"document {hook} in docs/plugins.md as: {heading}"


def test_the_hook_reference_documents_no_hook_that_does_not_exist() -> None:
    documented = [line for line in section(TEXT, "## Hook reference") if line.startswith("### ")]
    assert documented == [f"### `{signature}`" for signature in hook_signatures().values()]


@pytest.mark.parametrize("name", plugin.__all__)
def test_every_name_of_the_public_plugin_api_is_listed_in_the_modality_api(name: str) -> None:
    assert f"`{name}`" in "\n".join(section(TEXT, "## The Modality API")), f"list {name} in docs/plugins.md"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == "python"], ids=lambda b: b.file or "snippet")
def test_every_python_example_is_valid_python(block: Block) -> None:
    ast.parse(block.code)


@pytest.fixture
def documented() -> Iterator[dict[str, ModuleType]]:
    """Every plugin file of the guide, executed as the module it names (and removed again afterwards)."""
    modules: dict[str, ModuleType] = {}
    try:
        for file, block in FILES.items():
            if file.endswith(".py") and not file.startswith("test_"):
                module = ModuleType(file.removesuffix(".py"))
                sys.modules[module.__name__] = module
                exec(compile(block.code, f"docs/plugins.md:{file}", "exec"), module.__dict__)
                modules[module.__name__] = module
        yield modules
    finally:
        for name in modules:
            sys.modules.pop(name, None)


def test_the_first_example_is_a_complete_plugin_that_fits_on_one_screen(documented: dict[str, ModuleType]) -> None:
    smallest = section(TEXT, "## The smallest plugin")
    assert len(smallest) <= SCREEN_LINES
    assert [b.file for b in BLOCKS[:2]] == ["pyproject.toml", "llamaburn_x.py"]
    project = tomllib.loads(FILES["pyproject.toml"].code)["project"]
    assert project["entry-points"]["llamaburn"] == {"x": "llamaburn_x"}
    registry = load_registry(extra=[("x", documented["llamaburn_x"])])
    assert not registry.problems
    assert (registry.modality("x").label, registry.modality("x").available) == ("X", False)


async def test_the_documented_backend_registers_and_streams(documented: dict[str, ModuleType]) -> None:
    registry = load_registry(extra=[("echo", documented["llamaburn_echo"])])
    assert not registry.problems
    text = registry.modality("text")
    inputs = text.parse_inputs({"prompts": ["one two three"], "iterations": 1, "warmup": 0})
    async with registry.backend("echo")() as echo:
        run = Run(text, inputs, Target(echo, "echo"))
        events = run.bus.subscribe()
        await run.execute()
    assert run.status == "completed", run.error
    assert "".join(e.text for e in events.drain() if e.type == "token") == "one two three "


async def test_the_documented_runnable_modality_runs_against_a_fake_server(
    documented: dict[str, ModuleType],
) -> None:
    registry = load_registry(extra=[("shout", documented["llamaburn_shout"])])
    shout = registry.modality("shout")
    assert [m.name for m in shout.metrics] == ["tps", "ttft_ms"]
    inputs = shout.parse_inputs({"iterations": 2, "warmup": 0, "max_tokens": 5})
    with FakeServer(Script(tokens=20)) as fake:
        async with OllamaBackend(fake.url) as backend:
            run = await Run(shout, inputs, Target(backend, DEFAULT_MODEL)).execute()
    assert run.status == "completed", run.error
    asked = [r.body for r in fake.requests if r.path == "/api/chat"]
    assert [(b["messages"][0]["content"], b["options"]["num_predict"]) for b in asked] == [("SAY HELLO.", 5)] * 2
    assert [i["output_tokens"] for i in run.iterations] == [5, 5]


async def test_the_documented_plugin_test_passes(documented: dict[str, ModuleType]) -> None:
    namespace: dict[str, Any] = {"__name__": "test_shout"}
    exec(compile(FILES["test_shout.py"].code, "docs/plugins.md:test_shout.py", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests
    for test in tests:
        await test()
