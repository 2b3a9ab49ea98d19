"""A transcription's view in the app: the live panel shows a player for the recording a modality's
``Transcript`` declaration names, and each completed iteration's words with those that differ from the
reference marked by kind. The modality here is a third-party one with its own field and detail names, so
the app is shown to know none of Audio's; the real browser is test_e2e_audio.py.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from pydantic import Field

from llamaburn.engine.registry import load_registry
from llamaburn.plugin import Inputs, Metric, Modality, Target, Transcript, hookimpl
from llamaburn.testing import FakeServer
from llamaburn.testing.page import marked
from tests.test_ui_artifact import open_app, run, shown, until

ALIGNMENT = [
    {"op": "equal", "ref": "take the", "hyp": "take the"},
    {"op": "substitute", "ref": "red", "hyp": "read"},
    {"op": "delete", "ref": "bus", "hyp": ""},
    {"op": "insert", "ref": "", "hyp": "home now"},
]


class DictationInputs(Inputs):
    clip: str = Field("", description="A recording's path.")


class DictationModality(Modality):
    name = "dictation"
    label = "Dictation"
    available = True
    inputs = DictationInputs
    metrics = (Metric(name="errors", label="Errors", unit="", direction="lower"),)
    transcript = Transcript(audio_input="clip", words_detail="diff", label="What was heard")

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        on_text("take the read home now")
        return {"errors": 4, "diff": ALIGNMENT}


class DictationPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(DictationModality())


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
async def app_user(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    registry = load_registry(extra=[("dictation", DictationPlugin())])
    yield await open_app(user, fake, monkeypatch, registry)
    await user.service.aclose()  # type: ignore[attr-defined]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return path


async def test_the_player_and_the_words_marked_by_kind(app_user: User, clip: Path) -> None:
    await run(app_user, "dictation", clip=str(clip), iterations=1)
    assert marked(app_user, "live-progress").text == "Complete"
    shown(app_user, "live-transcript")
    player = shown(app_user, "live-audio")
    assert str(player.source).endswith("clip.wav")  # served as a media file, from the declared input
    words = [element for element in marked(app_user, "live-words").descendants() if isinstance(element, ui.label)]
    assert [(label.text, *label._markers) for label in words] == [
        ("take", "word-equal"), ("the", "word-equal"), ("read", "word-substitute"), ("bus", "word-delete"),
        ("home", "word-insert"), ("now", "word-insert"),
    ]
    assert "line-through" in marked(app_user, "word-delete").classes
    await app_user.should_see("the reference says: red")  # the substituted word's tooltip


async def test_a_modality_without_a_transcript_shows_no_player(app_user: User) -> None:
    await run(app_user, "text", iterations=1)
    await until(lambda: marked(app_user, "live-progress").text == "Complete")
    await app_user.should_not_see(marker="live-transcript")
    await app_user.should_not_see(marker="live-audio")
