"""Text is never HTML: prompts, model output, model names, plugin names and labels, and error messages that
carry ``<script>`` and HTML land in label text in the app's page (NiceGUI ``user`` fixture), never in an
element that renders HTML (``ui.html``, ``ui.markdown``, an ``*html*`` prop, a ``v-html`` slot, a
notification with ``html=True``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nicegui import ui
from nicegui.elements.mixins.content_element import ContentElement
from nicegui.testing import User
from nicegui.testing.user_notify import UserNotify

from llamaburn.engine.metrics import Metric
from llamaburn.engine.modality import Modality
from llamaburn.engine.registry import load_registry
from llamaburn.hookspecs import hookimpl
from llamaburn.server import create_app
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer, Script
from llamaburn.testing.page import marked
from tests.harness.moments import until

PROMPT = "<img src=x onerror=alert('prompt')>"
OUTPUT = ["<script>alert('output')</script>", "<b>bold</b>", "&lt;escaped&gt;"]
MODEL = "evil<svg onload=alert('model')>:latest"
ERROR = "<script>alert('error')</script><a href='javascript:alert(1)'>details</a>"
PLUGIN_LABEL = "<b onmouseover=alert('label')>Evil</b>"
METRIC_LABEL = "<i onclick=alert('metric')>Speed</i>"
PLUGIN_ERROR = "<iframe src=javascript:alert('plugin')>"
PAYLOADS = (PROMPT, "".join(OUTPUT), MODEL, ERROR, PLUGIN_LABEL, METRIC_LABEL, PLUGIN_ERROR)


class EvilModality(Modality):
    name = "evil"
    label = PLUGIN_LABEL
    available = False  # shown as "Coming Soon", with its label and its metrics' labels
    metrics = (Metric(name="speed", label=METRIC_LABEL, unit="tok/s", direction="higher"),)


class EvilPlugin:
    @hookimpl
    def register_modalities(self, register: Any) -> None:
        register(EvilModality())


class BrokenPlugin:
    @hookimpl
    def register_modalities(self, register: Any) -> None:
        raise ValueError(PLUGIN_ERROR)


class RecordingNotify(UserNotify):
    """The ``user`` fixture's notifications, with the options each was shown with (``html=True`` renders HTML)."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[dict[str, Any]] = []

    def __call__(self, message: str, **kwargs: Any) -> None:
        self.options.append(kwargs)
        super().__call__(message, **kwargs)


def texts(user: User) -> list[str]:
    """The text of every element on the page (labels, log lines, badges, tooltips...)."""
    assert user.client is not None
    return [str(getattr(element, "text", "")) for element in user.client.elements.values()]


def assert_rendered_as_text(user: User, payload: str) -> None:
    assert user.client is not None
    for element in user.client.elements.values():
        if isinstance(element, ContentElement):  # ui.html, ui.markdown, ui.mermaid...: they render markup
            assert payload not in str(element.content), type(element).__name__
        for key, value in element.props.items():
            if "html" in key.lower():  # Quasar's html / options-html props render strings as HTML
                assert value in (False, None) and payload not in str(value), (type(element).__name__, key)
        for slot in element.slots.values():
            assert "v-html" not in (slot.template or ""), type(element).__name__
    notify = user.notify
    assert isinstance(notify, RecordingNotify)
    assert not any(options.get("html") for options in notify.options)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=OUTPUT), models=[MODEL]) as server:
        yield server


async def test_prompts_output_models_plugins_and_errors_render_as_text(
    user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    registry = load_registry(extra=[("evil", EvilPlugin()), ("broken", BrokenPlugin())])
    assert [p.error for p in registry.problems] == [f"register_modalities failed: ValueError: {PLUGIN_ERROR}"]
    service = RunService(registry, Store())
    user.notify = RecordingNotify()
    create_app(service)  # the app as launch() serves it; it closes the service when it stops
    await user.open("/")
    await until(lambda: marked(user, "model-select").value == MODEL)
    await until(lambda: f"Model: {MODEL}" in texts(user))

    async def run(**script: Any) -> None:
        fake.script = Script(**script)
        started = len(service.runs)
        with user:
            marked(user, "field-iterations").value = 1
            marked(user, "field-warmup").value = 0
            marked(user, "field-prompts").value = PROMPT
        user.find(marker="run-button").click()
        await until(lambda: len(service.runs) == started + 1)
        await until(lambda: list(service.runs.values())[-1].done.is_set())
        await until(lambda: marked(user, "run-button").enabled)

    await run(tokens=OUTPUT)
    assert marked(user, "live-text").text == "".join(OUTPUT)
    assert marked(user, "live-prompt").text == PROMPT
    await run(status=500, error_message=ERROR)
    assert user.notify.contains(ERROR)
    assert any(line.startswith("error: ") and ERROR in line for line in texts(user))
    await until(lambda: len(marked(user, "history-table").rows) == 2)
    assert {row["model"] for row in marked(user, "history-table").rows} == {MODEL}

    rows = marked(user, "history-table").rows
    user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    user.find(marker="compare-button").click()
    await until(lambda: marked(user, "comparison-title").text == f"Comparison: {MODEL} vs {MODEL}")

    user.find(marker="tab-evil").click()
    await user.should_see(f"{PLUGIN_LABEL} benchmarks: Coming Soon")
    await user.should_see(f"Will measure: {METRIC_LABEL}")
    user.find(marker="plugins-button").click()
    table = marked(user, "plugins-table")
    assert any(row["label"] == PLUGIN_LABEL for row in table.rows)
    assert any(row["error"] and PLUGIN_ERROR in row["error"] for row in table.rows)

    for payload in PAYLOADS:
        assert_rendered_as_text(user, payload)
    await user.should_not_see(ui.html)
    await user.should_not_see(ui.markdown)
