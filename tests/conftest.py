"""Every test gets its own history database, so no test ever touches the user's real one."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["nicegui.testing.user_plugin"]  # NiceGUI's `user` fixture, for tests/test_ui.py


@pytest.fixture(autouse=True)
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("LLAMABURN_DB_URL", url)
    return url

