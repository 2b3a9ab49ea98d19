"""Word and character error rates against a reference transcript, with jiwer, after one normalisation
(docs/metrics.md): a transcript is not wrong for its capitals, its punctuation or its line breaks.

The normalisation composes Unicode (NFC), lowercases, drops punctuation (but keeps it between digits:
``3.5``, ``1,000``), and collapses whitespace. Numbers stay as written: ``5`` and ``five`` are different
words, because turning one into the other would need a language's number grammar, and would hide a model
that writes them wrongly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import jiwer

PUNCTUATION = re.compile(r"(?<!\d)[^\w\s]|[^\w\s](?!\d)|_")
"""A non-word, non-space character, unless it sits between two digits (a decimal point, a thousands comma)."""


def normalise(text: str) -> str:
    """The text as it is compared: composed (NFC, so an accent typed apart stays in its letter), lowercase,
    without punctuation, its words separated by single spaces."""
    return " ".join(PUNCTUATION.sub(" ", unicodedata.normalize("NFC", text).lower()).split())


@dataclass(frozen=True, slots=True)
class Score:
    """How a transcript compares with its reference. Rates are percentages; they can pass 100 (insertions)."""

    wer: float
    cer: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    words: list[dict[str, Any]]
    """The alignment, for the live panel: ``{"op", "ref", "hyp"}`` per run of equal or differing words."""


def score(reference: str, transcript: str) -> Score:
    """WER = (S + D + I) / N and CER the same over characters, N the normalised reference's words (chars).
    ``reference`` must not normalise to nothing (the inputs refuse that)."""
    ref, hyp = normalise(reference), normalise(transcript)
    output = jiwer.process_words(ref, hyp)
    ref_words, hyp_words = output.references[0], output.hypotheses[0]
    words = [
        {
            "op": chunk.type,
            "ref": " ".join(ref_words[chunk.ref_start_idx : chunk.ref_end_idx]),
            "hyp": " ".join(hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx]),
        }
        for chunk in output.alignments[0]
    ]
    return Score(
        wer=output.wer * 100, cer=jiwer.cer(ref, hyp) * 100, substitutions=output.substitutions,
        deletions=output.deletions, insertions=output.insertions, reference_words=len(ref_words), words=words,
    )
