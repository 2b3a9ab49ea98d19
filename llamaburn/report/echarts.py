"""The ECharts library as one script to inline in a report, taken from the copy NiceGUI ships, so a report
draws with the same ECharts as the app, needs no CDN and adds no dependency.

NiceGUI 3.x ships no ``echarts.min.js``: ``elements/echart/dist/index.js`` is a Vite entry that re-exports
``echarts`` from a hashed chunk (``index-<hash>.js``, ES module syntax, no static imports; echarts-gl is
a second chunk it imports only on demand). The chunk's trailing ``export {...}`` cannot run inline, so it
is replaced by an assignment of the ECharts namespace to ``globalThis.echarts``. The package is found
with ``importlib.util.find_spec``, which reads its location without importing NiceGUI.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from llamaburn.errors import LlamaBurnError

ENTRY = Path("elements", "echart", "dist", "index.js")
_IMPORT = re.compile(r'import\s*\{([^}]*)\}\s*from\s*"\./([\w.-]+\.js)"')
_EXPORT = re.compile(r"export\s*\{([^}]*)\}\s*;?\s*(//# sourceMappingURL=\S*\s*)?$")


class EChartsNotFound(LlamaBurnError):
    """NiceGUI's ECharts bundle is missing or laid out differently: the HTML report cannot draw charts."""


def _aliases(names: str) -> dict[str, str]:
    """``a as b, c`` -> ``{"a": "b", "c": "c"}``: an import or export list's names."""
    pairs = (part.strip().split(" as ") for part in names.split(",") if part.strip())
    return {pair[0].strip(): pair[-1].strip() for pair in pairs}


def nicegui_dir() -> Path:
    spec = importlib.util.find_spec("nicegui")
    if spec is None or not spec.submodule_search_locations:
        raise EChartsNotFound("NiceGUI is not installed, so there is no ECharts to inline: use --format md")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def echarts_script() -> str:
    """ECharts as the body of a module script that sets ``globalThis.echarts`` (about 1.1 MB)."""
    entry_path = nicegui_dir() / ENTRY
    try:
        entry = entry_path.read_text(encoding="utf-8")
        imported = _IMPORT.search(entry)
        exported = _EXPORT.search(entry)
        if imported is None or exported is None:
            raise EChartsNotFound(f"{entry_path} does not re-export echarts as NiceGUI 3.x does")
        local = {alias: name for name, alias in _aliases(exported[1]).items()}["echarts"]
        chunk_name = {alias: name for name, alias in _aliases(imported[1]).items()}[local]
        chunk = (entry_path.parent / imported[2]).read_text(encoding="utf-8")
    except (OSError, KeyError) as exc:
        raise EChartsNotFound(f"cannot read ECharts from NiceGUI's package ({entry_path}): {exc}") from None
    tail = _EXPORT.search(chunk)
    if tail is None or chunk_name not in (names := {v: k for k, v in _aliases(tail[1]).items()}):
        raise EChartsNotFound(f"{imported[2]} in {entry_path.parent} does not export ECharts as {chunk_name}")
    return f"{chunk[: tail.start()]}\nglobalThis.echarts = {names[chunk_name]};\n".replace("</script", "<\\/script")
