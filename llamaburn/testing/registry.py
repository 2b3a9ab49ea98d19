"""A registry holding only the plugins a test names, so a test never depends on what happens to be installed."""

from __future__ import annotations

from importlib.metadata import entry_points

from llamaburn.engine.registry import GROUP, Registry, load_registry


def registry(*names: str, extra: dict[str, object] | None = None) -> Registry:
    """The registry LlamaBurn builds, from the ``llamaburn`` entry points called ``names`` only, plus ``extra``
    plugin objects registered under their keys. The built-in backends (Ollama, OpenAI, embedded) are always in."""
    found = {point.name: point for point in entry_points(group=GROUP)}
    missing = sorted(set(names) - set(found))
    if missing:
        raise LookupError(f"no installed llamaburn plugin named {', '.join(missing)}")
    return load_registry(plugins=[found[name] for name in names], extra=(extra or {}).items())
