"""The app's page as the UI tests open it (over the fake Ollama), and the plugins some of them add, registered
as a third party's are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from nicegui.testing import User
from pydantic import Field

from llamaburn.engine.registry import Registry
from llamaburn.plugin import Inputs, Metric, Modality, Target, hookimpl
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer
from tests.harness.moments import until
from tests.harness.page import Page, open_page

OTHER_MODEL = "qwen3:4b"
FORM = {"iterations": 2, "warmup": 0}  # what each Page.run types unless a test says otherwise


async def open_app(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Page:
    """The page for a new service on ``registry``, its default backend Ollama at ``fake``, once connected."""
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    page = await open_page(user, RunService(registry, Store()), **FORM)
    await until(lambda: page.text("backend-status").startswith("connected"))
    return page


class CountInputs(Inputs):
    words: int = Field(3, ge=1, description="Words to count.")


class CountModality(Modality):
    """A second runnable modality with metrics of its own, measured without the server: its numbers follow
    from its form, so a test knows which tab's form a run used."""

    name = "count"
    label = "Count"
    available = True
    inputs = CountInputs
    metrics = (
        Metric(name="words_per_s", label="Words/s", unit="w/s", direction="higher"),
        Metric(name="wait_ms", label="Wait", unit="ms", direction="lower"),
        Metric(name="words", label="Words", unit="", direction="higher"),
    )

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, CountInputs)
        return f"count to {inputs.words}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        assert isinstance(inputs, CountInputs)
        on_text(" ".join(str(word) for word in range(1, inputs.words + 1)))
        return {"words_per_s": inputs.words * 10.0, "wait_ms": 100.0 / inputs.words, "words": inputs.words}


class CountPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(CountModality())


class DialInputs(Inputs):
    steps: int = Field(4, ge=1, le=9, title="Steps", description="How many steps.")
    mode: Literal["a", "b"] = Field("a", description="Which way.")
    strict: bool = Field(False, description="Refuse loose answers.")
    sizes: list[float] = Field(default_factory=lambda: [1.5, 2.0], description="Sizes, one per line.")
    note: str = Field("", json_schema_extra={"multiline": True}, description="A free note.")


class DialModality(CountModality):
    name = "dial"
    label = "Dial"
    inputs = DialInputs


class DialPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(DialModality())


class SoonModality(Modality):
    """A third-party modality that declares its metrics but cannot run yet: the app shows it "Coming Soon"."""

    name = "holo"
    label = "Holo"
    metrics = (Metric(name="holo_ms", label="Hologram time", unit="ms", direction="lower"),)


class SoonPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(SoonModality())
