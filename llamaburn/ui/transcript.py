"""The live panel's view of a transcription run, as its modality's ``Transcript`` declares: a player for
the recording, and once an iteration completes, its transcript word by word, with those that differ from
the reference marked (a substitution shows the reference's word on hover, a deletion is struck through).

The streamed text itself is the live panel's, like any modality's; this view reads only the declaration's
names, in the run's inputs and the iteration's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui

from llamaburn.engine.runner import Run

WORD_CLASSES = {
    "equal": "",
    "substitute": "bg-amber-200 rounded px-0.5",
    "insert": "bg-sky-200 rounded px-0.5",
    "delete": "line-through text-red-700",
}
WORD_TITLES = {"substitute": "the reference says: {ref}", "insert": "not in the reference", "delete": "missed"}


class TranscriptView:
    """Hidden unless the followed run's modality declares a ``transcript``."""

    def __init__(self) -> None:
        self.container = ui.column().classes("w-full gap-1").mark("live-transcript")
        self.container.set_visibility(False)
        self.words: ui.row | None = None

    def follow(self, run: Run) -> None:
        """The player for ``run``'s recording, or nothing for a modality without a transcript."""
        self.container.clear()
        self.words = None
        declaration = run.modality.transcript
        path = getattr(run.inputs, declaration.audio_input, None) if declaration else None
        self.container.set_visibility(isinstance(path, str))
        if declaration is None or not isinstance(path, str):
            return
        with self.container:
            ui.label(declaration.label).classes("font-medium")
            ui.audio(Path(path)).classes("w-full").mark("live-audio")
            self.words = ui.row().classes("w-full gap-x-1 gap-y-0 font-mono text-sm").mark("live-words")

    def clear(self) -> None:
        if self.words is not None:
            self.words.clear()

    def show(self, run: Run | None, values: dict[str, Any]) -> None:
        """The iteration's alignment with the reference, each differing word marked; nothing without one."""
        declaration = run.modality.transcript if run is not None else None
        if declaration is None or self.words is None:
            return
        self.words.clear()
        alignment = values.get(declaration.words_detail)
        if not isinstance(alignment, list):
            return
        with self.words:
            for chunk in alignment:
                op = chunk.get("op") if isinstance(chunk, dict) else None
                if op not in WORD_CLASSES:
                    continue
                for word in str(chunk["ref" if op == "delete" else "hyp"]).split():
                    label = ui.label(word).classes(WORD_CLASSES[op]).mark(f"word-{op}")
                    if op in WORD_TITLES:
                        label.tooltip(WORD_TITLES[op].format(ref=chunk.get("ref", "")))
