"""Every test gets its own history database and no internet, so no test touches the user's data or the world."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

# NiceGUI's `user` fixture, for tests/ui/, the UI face of tests/faults/ and tests/security/
pytest_plugins = ["nicegui.testing.user_plugin"]

STRICT = os.environ.get("LLAMABURN_STRICT_TESTS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, None]:
    """In strict mode (CI), a skip is a failure: CI installs everything, so a skip there is a broken install."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under LLAMABURN_STRICT_TESTS=1: {reason}"


@pytest.fixture(autouse=True)
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("LLAMABURN_DB_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # and the default location is a temporary one too
    return url


@pytest.fixture(autouse=True)
def offline_hugging_face(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: Hugging Face lookups go to a closed loopback port (respx overrides it)."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def keep_llamaburn_modules() -> Iterator[None]:
    """NiceGUI's ``user`` fixture drops the modules that define pages (and their parents) from
    ``sys.modules`` after each test. Put ours back, or the next import would make a second copy of every
    llamaburn module, with classes that no longer match the first copy's."""
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "llamaburn"}
    yield
    sys.modules.update(saved)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """One throwaway PostgreSQL cluster for the session (tests/postgres.py), or a skip naming its package."""
    from tests import postgres

    if not postgres.available():
        pytest.skip(postgres.skip_reason())
    with postgres.cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty history database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    from tests import postgres

    return postgres.fresh_database(request.getfixturevalue("postgres_admin_url"))
