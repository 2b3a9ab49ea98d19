"""The Audio tab in a real headless Chromium, against the fake OpenAI-compatible transcription server:
upload a spoken WAV, see its player, watch the transcript stream in, see the words that differ from the
reference marked, the metrics, and two runs compared with RTF and WER lower-is-better.

Set LLAMABURN_SCREENSHOTS=docs/screenshots to refresh the README's screenshot of an Audio run from this test.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from llamaburn.testing.transcription import SPEECH_MODEL, Behaviour, FakeTranscriptionServer
from tests.audio_samples import HEARD, SENTENCE, recording
from tests.system import needs_debian_packages, served_app

CHROMIUM = "/usr/bin/chromium"
pytestmark = [needs_debian_packages("browser"), needs_debian_packages("audio")]


@pytest.fixture
def speech() -> Iterator[FakeTranscriptionServer]:
    with FakeTranscriptionServer(Behaviour(transcript=HEARD, rtf=0.8, first_word_s=0.3)) as server:
        yield server


@pytest.fixture
def page(speech: FakeTranscriptionServer, tmp_path: Path) -> Iterator[Page]:
    env = {"OLLAMA_HOST": "127.0.0.1:9", "LLAMABURN_DB_URL": f"sqlite:///{tmp_path / 'audio.db'}",
           "NICEGUI_STORAGE_PATH": str(tmp_path / "storage")}
    with served_app(Path(sys.executable), tmp_path, **env) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(url)
            page.get_by_label("Backend", exact=True).click()
            page.get_by_role("option", name="OpenAI-compatible server").click()
            page.get_by_label("URL", exact=True).fill(speech.url)
            page.get_by_label("URL", exact=True).press("Enter")
            expect(page.get_by_text("connected · 2 models")).to_be_visible(timeout=15_000)
            page.locator(".q-drawer").get_by_label("Model", exact=True).click()  # not history's Model filter
            page.get_by_role("option", name=SPEECH_MODEL, exact=True).click()
            yield page
        finally:
            browser.close()


def audio_form(page: Page) -> Locator:
    return page.locator(".q-tab-panel").filter(has=page.get_by_text("Reference text"))


def run(page: Page, reference: str) -> None:
    form = audio_form(page)
    form.get_by_label("Reference text").fill(reference)
    form.get_by_label("Iterations").fill("2")
    form.get_by_label("Warmup").fill("0")
    page.get_by_role("button", name="Run").click()


def test_the_audio_tab_uploads_plays_streams_marks_and_compares(
    page: Page, speech: FakeTranscriptionServer, tmp_path: Path
) -> None:
    page.get_by_role("tab", name="Audio").click()
    form = audio_form(page)
    form.locator("input[type=file]").first.set_input_files(str(recording(tmp_path, "wav")))
    expect(form.get_by_text(re.compile(r"^speech\.wav: audio/wav, [\d,]+ bytes$"))).to_be_visible(timeout=10_000)

    run(page, SENTENCE)
    expect(page.get_by_text("Iteration 1/2", exact=True)).to_be_visible(timeout=15_000)
    player = page.locator("audio")
    expect(player).to_have_count(1)
    assert player.evaluate("a => a.src").startswith("http")
    live = page.locator(".whitespace-pre-wrap.font-mono:visible")
    expect(live).to_contain_text("the quick")  # words arrive as they stream, before the iteration completes
    assert live.inner_text() != HEARD  # the last of them are still to come (they take 1.9 s here)
    expect(page.get_by_text("Complete", exact=True)).to_be_visible(timeout=20_000)
    expect(live).to_have_text(HEARD)
    assert player.evaluate("a => a.readyState > 0 || a.networkState !== 3")  # the browser could load it
    marked = page.locator(".bg-amber-200")
    expect(marked).to_have_text(["jumped", "a"])  # the two words that differ from the reference
    expect(page.get_by_role("columnheader", name="Real-time factor").first).to_be_visible()
    expect(page.get_by_role("columnheader", name="Word error rate").first).to_be_visible()
    if shots := os.environ.get("LLAMABURN_SCREENSHOTS"):
        page.locator(".q-card").filter(has=player).screenshot(path=str(Path(shots) / "audio-live.png"))

    speech.behaviour.transcript = SENTENCE  # the second run hears every word
    reference = tmp_path / "reference.txt"
    reference.write_text(SENTENCE.capitalize() + ".\n")
    form.get_by_label("Reference text").fill("")
    form.locator("input[type=file]").nth(1).set_input_files(str(reference))  # the .txt fills the field
    expect(form.get_by_label("Reference text")).to_have_value(SENTENCE.capitalize() + ".\n")
    form.get_by_label("Iterations").fill("2")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".q-table tbody tr").filter(has_text="completed")).to_have_count(2, timeout=30_000)
    expect(marked).to_have_count(0)

    rows = page.locator(".q-table tbody tr").filter(has_text="completed")
    page.get_by_role("tab", name="History").click()  # the dashboard's History view
    for index in range(2):
        rows.nth(index).locator(".q-checkbox").click()
    page.get_by_role("button", name="Compare Selected").click()
    comparison = page.locator(".q-card").filter(has=page.get_by_text("Winner", exact=True))
    expect(comparison).to_be_visible()
    for label in ("Avg Real-time factor", "Avg Word error rate"):
        better = comparison.get_by_text(label, exact=True).locator("xpath=following-sibling::*[1]")
        expect(better).to_have_text(re.compile(r"lower$"))  # the metric's direction: lower is better
    # The newer run (every word right) first, then the one with two errors in nine words; the winner is
    # the run with the lower WER.
    wer = comparison.get_by_text("Avg Word error rate", exact=True).locator("xpath=following-sibling::*")
    expect(wer.nth(1)).to_contain_text("0.00 %")
    expect(wer.nth(2)).to_contain_text("22.22 %")
    newer = comparison.get_by_text(re.compile(r"^whisper-1 \(\w{8}\)$")).first.inner_text()
    expect(wer.nth(4)).to_have_text(newer)
