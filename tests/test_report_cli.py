"""``llamaburn report``: it writes the file a user asked for, in the format its name or ``--format`` says, and
refuses bad input in one line, with exit 2, writing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llamaburn.cli import main
from llamaburn.report import FORMATS
from llamaburn.storage.store import Store
from tests.harness.cli import assert_one_error_line
from tests.reports import FAST, SLOW, store_runs


@pytest.fixture(autouse=True)
def runs() -> list[str]:
    return store_runs(Store())


def test_report_writes_an_html_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    assert main(["report", FAST[:8], SLOW[:8], "-o", str(path)]) == 0
    assert capsys.readouterr().err == f"wrote {path}: a html report of 2 runs\n"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'id="comparison-table"' in html
    assert "globalThis.echarts = " in html


def test_report_writes_markdown_for_a_md_file_or_to_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    assert main(["report", FAST, "-o", str(path)]) == 0
    assert path.read_text(encoding="utf-8").startswith("# LlamaBurn report: llama3.2:1b\n")
    capsys.readouterr()
    assert main(["report", FAST, SLOW, "--format", "md"]) == 0
    assert "| Avg TPS (tok/s) | higher | **110.00 tok/s** |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["report", FAST, "nope", "-o", "{out}/report.html"], "nope"),
        (["report", FAST, "-o", "{out}/no-such-dir/report.html"], "cannot write the report"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = [arg.format(out=out) for arg in args]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert_one_error_line(captured.err, fragment)
    assert captured.out == ""
    assert list(out.iterdir()) == []


def test_the_parser_offers_every_format_and_help_loads_no_jinja(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    helped = subprocess.run([sys.executable, "-X", "importtime", "-m", "llamaburn", "report", "--help"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert helped.returncode == 0
    assert "{" + ",".join(FORMATS) + "}" in helped.stdout
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in helped.stderr.splitlines()}
    assert not {"jinja2", "nicegui", "sqlmodel"} & loaded
