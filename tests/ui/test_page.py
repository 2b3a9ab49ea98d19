"""The page as it opens, through NiceGUI's simulated ``user`` against the fake Ollama (over a socket, and
mocked by respx): the type tabs, the header's backend and model info, an unreachable backend, the plugins."""

from __future__ import annotations

from nicegui import ui

from llamaburn.testing import DEFAULT_MODEL, FakeServer
from tests.harness.moments import until
from tests.harness.page import Page
from tests.ui.app import OTHER_MODEL


async def test_six_type_tabs_with_text_first_each_with_its_form(page: Page) -> None:
    tabs = [e for e in page.element("type-tabs").descendants() if isinstance(e, ui.tab)]  # not the views' tabs
    assert [t.props["name"] for t in sorted(tabs, key=lambda t: t.id)] == [
        "text",
        "image",
        "audio",
        "video",
        "graphics3d",
        "code",
    ]
    assert page.element("type-tabs").value == "text"
    page.user.find(marker="tab-graphics3d").click()
    await page.user.should_see(marker="field-model_path")  # 3D works: its form, not "Coming Soon"
    await page.user.should_see(marker="field-language")  # Code works: its form, not "Coming Soon"
    await page.user.should_see(marker="run-button")
    page.user.find(marker="tab-audio").click()
    await page.user.should_see(marker="field-audio_path")  # Audio works too: its upload, not "Coming Soon"


async def test_header_connects_lists_models_and_shows_model_info(page: Page) -> None:
    assert page.element("backend-select").value == "ollama"
    assert page.text("backend-status") == "connected · 2 models"
    model = page.element("model-select")
    assert model.options == [DEFAULT_MODEL, OTHER_MODEL] and model.value == DEFAULT_MODEL
    await until(lambda: bool(page.user.find(marker="info-quantization").elements))
    for marker, expected in (
        ("info-parameter_size", "Size: "),
        ("info-quantization", "Quant: Q4_K_M"),
        ("info-family", "Family: "),
        ("info-format", "Format: gguf"),
    ):
        assert page.text(marker).startswith(expected)
    assert "-" not in page.text("info-parameter_size")


async def test_unreachable_backend_is_reported_and_nothing_freezes(page: Page) -> None:
    with page.user:
        page.element("backend-select").value = "openai"
        page.element("backend-url").value = "http://127.0.0.1:9"
    page.user.find(marker="backend-url").trigger("keydown.enter")
    await until(lambda: page.text("backend-status") == "unreachable")
    await page.user.should_see("is not reachable")
    assert any("is not reachable" in line.text for line in page.element("event-log").descendants())


async def test_plugins_dialog_lists_plugins_with_their_origin(page: Page) -> None:
    page.user.find(marker="plugins-button").click()
    rows = page.element("plugins-table").rows
    text_row = next(row for row in rows if row["name"] == "text")
    assert (text_row["kind"], text_row["distribution"], text_row["status"]) == ("modality", "llamaburn", "available")
    assert sum(row["status"] == "coming soon" for row in rows) == 0
    assert {row["name"] for row in rows if row["kind"] == "backend"} == {"ollama", "openai", "embedded", "whisper-cpp"}


async def test_an_api_key_reaches_the_server_and_is_stored_masked(page: Page, fake: FakeServer) -> None:
    key = "sk-test-4f9c2a"
    await page.user.should_not_see(marker="backend-api-key")  # Ollama takes no key
    with page.user:
        page.element("backend-select").value = "openai"
    await page.user.should_see(marker="backend-api-key")
    with page.user:
        page.element("backend-url").value = fake.url
        page.element("backend-api-key").value = key
    page.user.find(marker="backend-api-key").trigger("keydown.enter")
    await until(lambda: page.text("backend-status") == "connected · 2 models")
    assert page.element("backend-api-key").props["type"] == "password"
    await page.run(iterations=1)
    assert page.text("live-progress") == "Complete"
    sent = [r for r in fake.requests if r.path in ("/v1/models", "/v1/chat/completions")]
    assert {r.path for r in sent} == {"/v1/models", "/v1/chat/completions"}
    assert all(r.headers["authorization"] == f"Bearer {key}" for r in sent)
    [stored] = page.service.store.list_runs()
    assert stored.backend == "openai" and stored.config["api_key"] == "***"
    assert key not in stored.model_dump_json() and all(key not in label.text for label in
                                                       page.element("event-log").descendants())
