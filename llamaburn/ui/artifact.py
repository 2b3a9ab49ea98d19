"""The live panel's view of what an iteration made, as its modality's ``Artifact`` declares: highlighted
source, with the line of its first problem marked.

It reads only the declaration's keys in the iteration's values, so any plugin's artifact shows the same way.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from llamaburn.engine.modality import Artifact

ERROR_LINE_CSS = """
.artifact-code pre > code {
  display: block;
  --error-band: rgb(239 68 68 / 0.22);
  background: linear-gradient(to bottom,
    transparent calc((var(--error-line) - 1) * 1lh), var(--error-band) 0,
    var(--error-band) calc(var(--error-line) * 1lh), transparent 0) no-repeat;
}
"""
"""A band behind line ``--error-line`` of the highlighted code. Pygments' HTML has no element per line to
style, so the band is drawn at that many line heights (``lh``); with no ``--error-line`` there is none."""


class ArtifactView:
    """Empty until ``show()``; ``clear()`` empties it again when the next iteration starts."""

    def __init__(self) -> None:
        ui.add_css(ERROR_LINE_CSS)
        self.container = ui.column().classes("w-full gap-1").mark("live-artifact")
        self.container.set_visibility(False)

    def clear(self) -> None:
        self.container.clear()
        self.container.set_visibility(False)

    def show(self, artifact: Artifact, values: dict[str, Any]) -> None:
        """Show ``values[artifact.detail]``; nothing if the iteration holds no such text."""
        self.clear()
        text = values.get(artifact.detail)
        if not isinstance(text, str):
            return
        language = values.get(artifact.language_detail) if artifact.language_detail else None
        line = values.get(artifact.error_line_detail) if artifact.error_line_detail else None
        error_line = line if isinstance(line, int) and not isinstance(line, bool) and line >= 1 else None
        with self.container:
            ui.label(artifact.label).classes("font-medium").mark("live-artifact-label")
            code = ui.code(language=language if isinstance(language, str) else "")
            # Not through the constructor, which drops leading blank lines and the first line's indentation
            # from every line: the text would no longer be the answer, and the marked line would move.
            code.set_content(text)
            code.classes("w-full artifact-code").mark("live-artifact-code")
            if error_line is not None:
                code.style(f"--error-line: {error_line}")
                error = ui.label(f"{artifact.error_label} at line {error_line}").classes("text-negative text-sm")
                error.mark("live-artifact-error")
        self.container.set_visibility(True)
