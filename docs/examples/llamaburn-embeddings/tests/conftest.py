"""Fixtures: a fake embeddings server on a loopback port, and LlamaBurn backends pointed at it."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from fake_embeddings import FakeEmbeddingsServer
from llamaburn.plugin import Backend
from llamaburn.testing import registry

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session", autouse=True)
def entry_point(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The tests find the plugin as LlamaBurn does, through its entry point. Installed (``pip install -e .``, or
    the wheel), it is there; in a bare source checkout, declare it for the session with the metadata pip would
    write, so ``pytest`` runs here without installing anything."""
    try:
        distribution("llamaburn-embeddings")
        return
    except PackageNotFoundError:
        pass
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    site = tmp_path_factory.mktemp("site")
    info = site / f"llamaburn_embeddings-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    points = "".join(f"{name} = {value}\n" for name, value in project["entry-points"]["llamaburn"].items())
    (info / "entry_points.txt").write_text(f"[llamaburn]\n{points}")
    sys.path[:0] = [str(ROOT), str(site)]


@pytest.fixture
def fake() -> Iterator[FakeEmbeddingsServer]:
    with FakeEmbeddingsServer() as server:
        yield server


@pytest.fixture(params=["ollama", "openai"])
async def backend(request: pytest.FixtureRequest, fake: FakeEmbeddingsServer) -> AsyncIterator[Backend]:
    """Each test that takes ``backend`` runs once per protocol, through LlamaBurn's own backend classes."""
    opened = registry().backend(request.param)(fake.url)
    async with opened:
        yield opened
