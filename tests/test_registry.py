"""Plugin hooks: built-ins come through entry points, bad plugins are listed and never fatal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from llamaburn.engine.registry import load_registry
from llamaburn.errors import ConfigError
from llamaburn.plugin import Backend, Modality, hookimpl

BUILTINS = ["text", "image", "audio", "video", "graphics3d", "code"]


class TinyModality(Modality):
    name = "tiny"
    label = "Tiny"


class TinyPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Any], None]) -> None:
        register(TinyModality())


def test_hook_register_modalities_builtins_through_entry_points() -> None:
    registry = load_registry()
    assert list(registry.modalities) == BUILTINS
    assert all(m.available for m in registry.modalities.values())
    rows = {row.name: row for row in registry.describe() if row.kind == "modality"}
    assert rows["text"].distribution == "llamaburn"
    assert not registry.problems


def test_hook_register_backends_builtins() -> None:
    registry = load_registry()
    assert list(registry.backends) == ["ollama", "openai", "embedded", "whisper-cpp"]
    assert all(issubclass(cls, Backend) for cls in registry.backends.values())


def test_every_modality_declares_inputs_and_directed_metrics() -> None:
    for modality in load_registry().modalities.values():
        assert modality.metrics, modality.name
        assert {m.direction for m in modality.metrics} <= {"higher", "lower"}
        assert "iterations" in modality.inputs.model_fields


def test_third_party_modality_is_added_after_the_builtins() -> None:
    registry = load_registry(extra=[("tiny", TinyPlugin())])
    assert list(registry.modalities)[-1] == "tiny"
    assert registry.modality("tiny").available is False


def test_duplicate_name_is_refused_and_listed() -> None:
    class Clash(Modality):
        name = "text"
        label = "Impostor"

    class ClashPlugin:
        @hookimpl
        def register_modalities(self, register: Callable[[Any], None]) -> None:
            register(Clash())

    registry = load_registry(extra=[("clash", ClashPlugin())])
    assert registry.modality("text").label == "Text"
    [problem] = registry.problems
    assert problem.name == "clash"
    assert "already taken" in (problem.error or "")


def test_plugin_that_fails_to_import_is_listed_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    broken = EntryPoint(name="broken", value="llamaburn_no_such_module", group="llamaburn")
    registry = load_registry(plugins=[broken, *_builtin_entry_points()])
    assert "text" in registry.modalities
    [problem] = registry.problems
    assert problem.name == "broken" and "failed to import" in (problem.error or "")
    assert "broken" in caplog.text


def test_hook_that_raises_or_registers_junk_is_listed() -> None:
    class Raising:
        @hookimpl
        def register_modalities(self, register: Callable[[Any], None]) -> None:
            raise RuntimeError("boom")

    class Junk:
        @hookimpl
        def register_modalities(self, register: Callable[[Any], None]) -> None:
            register("not a modality")

    registry = load_registry(extra=[("raising", Raising()), ("junk", Junk())])
    errors = {p.name: p.error or "" for p in registry.problems}
    assert "boom" in errors["raising"]
    assert "not a Modality instance" in errors["junk"]
    assert len(registry.modalities) == 6


def test_unknown_names_give_a_one_line_error() -> None:
    registry = load_registry()
    with pytest.raises(ConfigError, match="unknown modality 'nope'; choose from: text, image"):
        registry.modality("nope")
    with pytest.raises(ConfigError, match="unknown backend 'x'"):
        registry.backend("x")


def _builtin_entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group="llamaburn"))


def test_pip_installed_plugin_appears_in_llamaburn_plugins(tmp_path: Path) -> None:
    """The smallest third-party plugin, as an installed distribution, with nothing else done."""
    (tmp_path / "llamaburn_x.py").write_text(textwrap.dedent('''
        from llamaburn.plugin import Modality, hookimpl

        class MyModality(Modality):
            name = "x"
            label = "X"

        @hookimpl
        def register_modalities(register):
            register(MyModality())
    '''))
    dist = tmp_path / "llamaburn_x-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: llamaburn-x\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[llamaburn]\nx = llamaburn_x\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "llamaburn", "plugins", "--json"], capture_output=True,
                            text=True, env=env, check=True)
    rows = {row["name"]: row for row in json.loads(result.stdout) if row["kind"] == "modality"}
    assert list(rows) == [*BUILTINS, "x"]
    assert rows["x"] == {"kind": "modality", "name": "x", "label": "X", "available": False,
                         "distribution": "llamaburn-x", "version": "1.2.3", "error": None}


def test_misspelled_hook_is_refused_loudly() -> None:
    class Typo:
        @hookimpl
        def register_modality(self, register: Callable[[Any], None]) -> None:  # missing the final "s"
            register(TinyModality())

    registry = load_registry(extra=[("typo", Typo()), ("tiny", TinyPlugin())])
    [problem] = registry.problems
    assert problem.name == "typo" and "register_modality" in (problem.error or "")
    assert "tiny" in registry.modalities  # the plugins after it still load


async def test_default_backend_follows_probe_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from llamaburn.testing import FakeServer

    registry = load_registry([])
    with FakeServer() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        assert await registry.default_backend() == "ollama"
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr("llamaburn.backends.embedded.embedded_installed", lambda: True)
    assert await registry.default_backend() == "embedded"
    monkeypatch.setattr("llamaburn.backends.embedded.embedded_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"no backend found .*start Ollama .*pip install 'llamaburn\[embedded\]'"):
        await registry.default_backend()
