"""Finds plugins through the ``llamaburn`` entry-point group and collects what they register.

A plugin that fails to import, whose hook raises, or that registers a taken name is logged and kept in
``problems`` (``llamaburn plugins`` lists it); it never takes the app down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pydantic import BaseModel

from llamaburn import __version__, hookspecs
from llamaburn.backends import builtin
from llamaburn.backends.base import Backend
from llamaburn.backends.embedded import INSTALL_HINT
from llamaburn.engine.modality import Modality
from llamaburn.errors import ComingSoonError, ConfigError, NoBackendError

log = logging.getLogger(__name__)
GROUP = "llamaburn"
BUILTIN_ORDER = ("text", "image", "audio", "video", "graphics3d", "code")


class PluginInfo(BaseModel):
    """One line of ``llamaburn plugins``: a registered modality or backend, or a plugin that failed."""

    kind: str
    name: str
    label: str = ""
    available: bool = False
    distribution: str | None = None
    version: str | None = None
    error: str | None = None


@dataclass
class _Source:
    plugin: str
    distribution: str | None = None
    version: str | None = None


@dataclass
class Registry:
    modalities: dict[str, Modality] = field(default_factory=dict)
    backends: dict[str, type[Backend]] = field(default_factory=dict)
    sources: dict[tuple[str, str], _Source] = field(default_factory=dict)
    problems: list[PluginInfo] = field(default_factory=list)

    def modality(self, name: str) -> Modality:
        if name not in self.modalities:
            raise ConfigError(f"unknown modality {name!r}; choose from: {', '.join(self.modalities)}")
        return self.modalities[name]

    def runnable(self, name: str) -> Modality:
        """The modality ``name`` if it can run: an unknown one is a ``ConfigError``, a Coming Soon one a
        ``ComingSoonError`` naming those that can."""
        chosen = self.modality(name)
        if not chosen.available:
            raise ComingSoonError(
                f"{chosen.label} benchmarks are coming soon: only "
                f"{', '.join(n for n, m in self.modalities.items() if m.available)} can run"
            )
        return chosen

    def backend(self, name: str) -> type[Backend]:
        if name not in self.backends:
            raise ConfigError(f"unknown backend {name!r}; choose from: {', '.join(self.backends)}")
        return self.backends[name]

    async def default_backend(self) -> str:
        """The backend to use when the user names none: the first, by ``probe_order``, that is ``available()``
        (Ollama answers, then the embedded server is installed)."""
        probed = sorted(
            (cls for cls in self.backends.values() if cls.probe_order is not None),
            key=lambda cls: cls.probe_order or 0,
        )
        for cls in probed:
            if await cls.available():
                return cls.name
        raise NoBackendError(
            f"no backend found ({', '.join(cls.label for cls in probed) or 'none'} probed): start Ollama "
            f"(`ollama serve`), point --backend openai --url at a server, or use the embedded backend ({INSTALL_HINT})"
        )

    def describe(self) -> list[PluginInfo]:
        """Every modality, then every backend, then every problem, for ``llamaburn plugins``."""
        rows = []
        for name, modality in self.modalities.items():
            source = self.sources[("modality", name)]
            rows.append(
                PluginInfo(
                    kind="modality",
                    name=name,
                    label=modality.label,
                    available=modality.available,
                    distribution=source.distribution,
                    version=source.version,
                )
            )
        for name, backend in self.backends.items():
            source = self.sources[("backend", name)]
            rows.append(
                PluginInfo(
                    kind="backend",
                    name=name,
                    label=backend.label,
                    available=True,
                    distribution=source.distribution,
                    version=source.version,
                )
            )
        return rows + self.problems


def load_registry(plugins: Iterable[EntryPoint] | None = None, extra: Iterable[tuple[str, object]] = ()) -> Registry:
    """Build the registry from the entry points (all installed ones by default) and ``extra`` plugins.

    ``extra`` is ``(name, plugin object)`` pairs registered as they are, which is how tests add small
    plugin classes without installing a package.
    """
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    origins: dict[str, _Source] = {}

    def add(name: str, plugin: object, source: _Source) -> None:
        try:
            manager.register(plugin, name=name)
        except Exception as exc:
            _problem(registry, source, f"cannot register: {exc}")
            return
        try:
            manager.check_pending()  # a misspelled hook name fails here, loudly, not silently never called
        except pluggy.PluginValidationError as exc:
            manager.unregister(plugin)
            _problem(registry, source, f"cannot register: {exc}")
            return
        origins[name] = source

    add("llamaburn.backends", builtin, _Source("llamaburn.backends", "llamaburn", __version__))
    for entry_point in entry_points(group=GROUP) if plugins is None else plugins:
        dist = entry_point.dist
        source = _Source(entry_point.name, dist.name if dist else None, dist.version if dist else None)
        try:
            module = entry_point.load()
        except Exception as exc:
            _problem(registry, source, f"failed to import {entry_point.value}: {type(exc).__name__}: {exc}")
            continue
        add(entry_point.name, module, source)
    for name, plugin in extra:
        add(name, plugin, _Source(name))

    for hook, kind in ((manager.hook.register_modalities, "modality"), (manager.hook.register_backends, "backend")):
        for impl in hook.get_hookimpls():
            source = origins[impl.plugin_name]
            try:
                impl.function(register=lambda obj, s=source, k=kind: _register(registry, k, obj, s))
            except Exception as exc:
                _problem(registry, source, f"{hook.name} failed: {type(exc).__name__}: {exc}")
    registry.modalities = dict(sorted(registry.modalities.items(), key=_tab_order))
    return registry


def _tab_order(item: tuple[str, Modality]) -> tuple[int, str]:
    """Built-ins first, in the spec's tab order, then third-party modalities by name."""
    name = item[0]
    return (BUILTIN_ORDER.index(name) if name in BUILTIN_ORDER else len(BUILTIN_ORDER), name)


def _register(registry: Registry, kind: str, obj: Any, source: _Source) -> None:
    if kind == "modality":
        table: dict[str, Any] = registry.modalities
        is_valid, wanted = isinstance(obj, Modality), "a Modality instance"
    else:
        table = registry.backends
        is_valid, wanted = isinstance(obj, type) and issubclass(obj, Backend), "a Backend subclass"
    name = getattr(obj, "name", None)
    if not is_valid or not isinstance(name, str) or not getattr(obj, "label", None):
        _problem(registry, source, f"registered {obj!r}, not {wanted} with a name and a label")
        return
    if name in table:
        owner = registry.sources[(kind, name)].plugin
        _problem(registry, source, f"{kind} name {name!r} is already taken by plugin {owner!r}")
        return
    table[name] = obj
    registry.sources[(kind, name)] = source


def _problem(registry: Registry, source: _Source, error: str) -> None:
    log.warning("plugin %s: %s", source.plugin, error)
    registry.problems.append(
        PluginInfo(
            kind="plugin", name=source.plugin, distribution=source.distribution, version=source.version, error=error
        )
    )
