"""The CLI face in-process, as a user reads it: the exit code, the ``--json`` document on stdout, and at
most one ``llamaburn: error: ...`` line on stderr."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llamaburn.cli import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    """Run ``llamaburn *args``: its exit code, its JSON output (if it printed any) and its stderr."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def assert_one_error_line(err: str, *fragments: str) -> str:
    """stderr is one error line holding each fragment; the message, without its prefix."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("llamaburn: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0].removeprefix("llamaburn: error: ")
