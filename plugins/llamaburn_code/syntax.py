"""Whether code parses: tree-sitter for every language (an ERROR or MISSING node makes it invalid), and for
Python also ``compile()``, which parses and compiles without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from tree_sitter_language_pack import get_parser

if TYPE_CHECKING:
    from tree_sitter import Node, Parser


@dataclass(frozen=True, slots=True)
class SyntaxCheck:
    """``line`` and ``column`` are 1-based, of the first error; ``None`` for valid code."""

    valid: bool
    line: int | None = None
    column: int | None = None


@cache
def _parser(language: str) -> Parser:
    return get_parser(language)  # type: ignore[arg-type]


def _first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node in document order, or ``None``."""
    if node.is_error or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        if (found := _first_error(child)) is not None:
            return found
    return None


def check(code: str, language: str) -> SyntaxCheck:
    """Parse ``code``; empty code is invalid, since there is no answer to use."""
    if not code.strip():
        return SyntaxCheck(False, 1, 1)
    tree = _parser(language).parse(code.encode())
    if (error := _first_error(tree.root_node)) is not None:
        row, byte = error.start_point
        line = code.encode().split(b"\n")[row] if row < code.count("\n") + 1 else b""
        return SyntaxCheck(False, row + 1, len(line[:byte].decode(errors="replace")) + 1)
    if language == "python":
        try:
            compile(code, "<answer>", "exec", dont_inherit=True)
        except SyntaxError as exc:  # ValueError (a NUL byte) is caught by tree-sitter first
            return SyntaxCheck(False, exc.lineno or 1, exc.offset or 1)
        except ValueError:
            return SyntaxCheck(False, 1, 1)
    return SyntaxCheck(True)
