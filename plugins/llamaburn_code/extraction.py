"""Which part of an answer is the code: the first fenced block tagged with the language, else the first
fenced block, else the whole answer. Thinking (a ``<think>`` section in the content) is never code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Rule = Literal["tagged", "fenced", "whole"]

ALIASES: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "py", "python3"}),
    "javascript": frozenset({"javascript", "js", "jsx", "node", "mjs"}),
    "typescript": frozenset({"typescript", "ts", "tsx"}),
    "rust": frozenset({"rust", "rs"}),
    "go": frozenset({"go", "golang"}),
    "c": frozenset({"c", "h"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "hpp"}),
    "java": frozenset({"java"}),
}

# A fence opens a line with three or more backticks or tildes and an optional info string; it closes at
# a line of the same fence, or at the end of the answer (an answer cut off by max_tokens).
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<code>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE,
)
_THINKING = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Extraction:
    code: str
    rule: Rule


def without_thinking(answer: str) -> str:
    """``answer`` with every ``<think>`` section removed; an unclosed one runs to the end."""
    return _THINKING.sub("", answer)


def extract(answer: str, language: str) -> Extraction:
    """The code of ``answer`` in ``language`` and the rule that found it."""
    text = without_thinking(answer)
    blocks = [(match["info"].strip().split(" ")[0].lower(), match["code"]) for match in _FENCE.finditer(text)]
    names = ALIASES.get(language, frozenset({language}))
    for tag, code in blocks:
        if tag in names:
            return Extraction(code, "tagged")
    if blocks:
        return Extraction(blocks[0][1], "fenced")
    return Extraction(text.strip("\n"), "whole")
