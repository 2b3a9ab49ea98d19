"""The real-socket fake server each backend test that needs one gets afresh."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llamaburn.testing import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake
