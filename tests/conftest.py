"""Every test gets its own history database and no internet, so no test touches the user's data or the world."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["nicegui.testing.user_plugin"]  # NiceGUI's `user` fixture, for tests/test_ui.py


@pytest.fixture(autouse=True)
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("LLAMABURN_DB_URL", url)
    return url


@pytest.fixture(autouse=True)
def offline_hugging_face(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: Hugging Face lookups go to a closed loopback port (respx overrides it)."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")

