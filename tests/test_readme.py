"""The README's test command is the one CI runs, so a newcomer who follows it gets what CI gets."""

from __future__ import annotations

import re
from pathlib import Path

from tests.system import groups

ROOT = Path(__file__).parent.parent
INSTALL_GROUPS = {"build"}  # packages the install step needs (pip compiles llama.cpp with no cached wheel)


def readme_test_command() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    [command] = [block.strip() for block in blocks if "python -m pytest" in block]
    return command


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = readme_test_command()
    assert "debian-packages" in command and "pip install -e" in command
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_debian_package_belongs_to_a_group_the_tests_or_the_install_ask_for() -> None:
    asked = set(re.findall(r'(?:needs_debian_packages|missing)\("(\w+)"\)', "".join(
        path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != "system.py")))
    assert asked | INSTALL_GROUPS == set(groups())
