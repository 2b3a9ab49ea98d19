"""``llamaburn report RUN… -o FILE``: a face over ``llamaburn.report``, which builds and renders the file."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llamaburn.report import Format

MARKDOWN_SUFFIXES = (".md", ".markdown")


def report(args: argparse.Namespace) -> int:
    """Write the report of ``args.run_ids``; an unknown run is refused before any file is written (exit 2)."""
    from llamaburn.engine.registry import load_registry
    from llamaburn.errors import ConfigError
    from llamaburn.report import build_report, render
    from llamaburn.storage.store import Store

    output = args.output
    fmt: Format = args.format or ("md" if output is not None and output.suffix.lower() in MARKDOWN_SUFFIXES else "html")
    document = build_report(Store(), load_registry().modalities, args.run_ids)
    text = render(document, fmt)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {output}: {exc.strerror}") from None
    runs = len(document.runs)
    print(f"wrote {output}: a {fmt} report of {runs} run{'s' if runs != 1 else ''}", file=sys.stderr)
    return 0
