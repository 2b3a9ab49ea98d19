"""Audio: real espeak-ng recordings in six formats, transcribed by the fake OpenAI-compatible and whisper.cpp
servers (streamed and not); RTF, latency to first word and WER checked
against the fake's own clock and its known errors; every bad input refused with one line, nothing stored."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llamaburn.backends.base import Backend
from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.backends.whisper_cpp import MODEL_ID, WhisperCppBackend
from llamaburn.engine.registry import Registry
from llamaburn.engine.runner import Run
from llamaburn.errors import BackendError, CapabilityError, InputsError
from llamaburn.service.assembly import BackendPool, prepare_run
from llamaburn.service.request import RunRequest
from llamaburn.storage.store import Store
from llamaburn.storage.uploads import uploads_dir
from llamaburn.testing import FakeServer
from llamaburn.testing import registry as plugins_named
from llamaburn.testing.transcription import CHAT_MODEL, SPEECH_MODEL, Behaviour, FakeTranscriptionServer
from llamaburn_audio.accuracy import normalise, score
from llamaburn_audio.recording import Recording, read_recording
from tests.audio_samples import FORMATS, HEARD, HEARD_ERRORS, SENTENCE, decoded_seconds, recording
from tests.harness.cli import assert_one_error_line, cli
from tests.system import needs_debian_packages

pytestmark = needs_debian_packages("audio")
TRANSPORT_MS = 30.0
"""What the client's clock may add to the server's: the upload of the file and the answer's trip back on
loopback, and scheduling on 2 busy cores (2 to 4 ms on a quiet machine, up to ~15 ms measured under load)."""


@pytest.fixture
def registry() -> Registry:
    return plugins_named("audio", "text")


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def fake() -> Iterator[FakeTranscriptionServer]:
    with FakeTranscriptionServer(Behaviour(transcript=HEARD, rtf=0.25)) as server:
        yield server


def assert_within_transport(client_ms: float, server_ms: float) -> None:
    """The client's time spans the server's own (the request is sent before the server starts its clock, and
    read after it stops) and exceeds it by no more than the transport: no client work is counted in it."""
    assert server_ms <= client_ms <= server_ms + TRANSPORT_MS, (client_ms, server_ms)


def upload(path: Path) -> str:
    """The recording put in the uploads directory as an upload would be: its upload id."""
    directory = uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, directory / path.name)
    return path.name


async def measure(
    registry: Registry, backend: Backend, store: Store, model: str, **inputs: Any
) -> Run:
    """One run as every face runs it (``prepare_run``), recorded in ``store``."""
    request = RunRequest(
        modality="audio", inputs={"iterations": 2, "warmup": 0, **inputs}, backend=backend.name, url=backend.url,
        model=model,
    )
    pool = BackendPool(registry)
    pool.add(backend)
    prepared = await prepare_run(request, registry, pool)
    recorder = await prepared.record(store)
    assert recorder is not None
    await prepared.run.execute()
    await recorder.task
    return prepared.run


def test_normalisation_drops_case_punctuation_and_spacing_but_keeps_numbers_as_written() -> None:
    assert normalise("  The Fox,\n jumped!  Over 3.5 m — at 1,000 ft.") == "the fox jumped over 3.5 m at 1,000 ft"
    assert normalise("I'm here") == "i m here"
    assert normalise("Cafe\u0301 CAFÉ") == "café café"  # an accent typed apart stays in its letter
    assert score("five dogs", "5 dogs").wer == 50.0  # a number is a word as written: 5 is not five


@given(st.text(max_size=80))
def test_normalisation_is_idempotent_and_leaves_only_words(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once and once == once.strip() and "  " not in once
    assert once == once.lower() and not any(char.isspace() and char != " " for char in once)
    for index, char in enumerate(once):
        if not (char.isalnum() or char == " "):  # punctuation survives only between two digits
            assert 0 < index < len(once) - 1 and once[index - 1].isdigit() and once[index + 1].isdigit()


@given(st.text(alphabet="abc ", max_size=30), st.text(alphabet="abc ", max_size=30))
def test_wer_is_the_edit_count_over_the_reference_words(reference: str, transcript: str) -> None:
    assume(normalise(reference))
    result = score(reference, transcript)
    errors = result.substitutions + result.deletions + result.insertions
    assert result.wer == pytest.approx(errors / len(normalise(reference).split()) * 100)
    assert (result.wer == 0) == (normalise(reference) == normalise(transcript))


def test_score_counts_each_kind_of_error() -> None:
    result = score("a b c d e f", "a x c e f g")
    assert (result.substitutions, result.deletions, result.insertions) == (1, 1, 1)
    assert result.wer == pytest.approx(300 / 6) and result.reference_words == 6
    assert [(chunk["op"], chunk["ref"], chunk["hyp"]) for chunk in result.words] == [
        ("equal", "a", "a"), ("substitute", "b", "x"), ("equal", "c", "c"), ("delete", "d", ""),
        ("equal", "e f", "e f"), ("insert", "", "g"),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "single"])
async def test_openai_compatible_run(
    fmt: str, stream: bool, fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path
) -> None:
    path = recording(tmp_path, fmt)
    fake.behaviour.stream = stream
    backend = OpenAIBackend(fake.url)
    try:
        run = await measure(registry, backend, store, SPEECH_MODEL, audio_path=upload(path), reference_text=SENTENCE)
    finally:
        await backend.aclose()
    assert run.status == "completed", run.error
    served = fake.served[1:]  # the first is the preflight's half second of silence
    assert len(served) == 2 and served[0].duration_s == pytest.approx(decoded_seconds(path))
    assert served[0].fields["model"] == SPEECH_MODEL and served[0].fields["response_format"] == "json"
    for metrics, answer in zip(run.iterations, served, strict=True):
        assert metrics["transcript"] == HEARD
        assert metrics["transcription_mode"] == ("stream" if stream else "single")
        assert metrics["audio_duration_s"] == pytest.approx(decoded_seconds(path))
        assert metrics["wer"] == pytest.approx(HEARD_ERRORS / 9 * 100)
        assert metrics["word_count"] == 9
        assert_within_transport(metrics["processing_ms"], answer.processing_s * 1000)
        assert_within_transport(metrics["rtf"] * answer.duration_s * 1000, answer.processing_s * 1000)
        assert metrics["rtf"] >= fake.behaviour.rtf  # the server's pacing: never early, late only when loaded
        assert metrics["total_ms"] >= metrics["processing_ms"]
        if stream:
            assert answer.first_word_at is not None
            assert_within_transport(metrics["first_word_ms"], (answer.first_word_at - answer.received_at) * 1000)
        else:
            assert metrics["first_word_ms"] is None  # unknown without a stream, never the total
    record = store.get_run(run.id)
    assert record.status == "completed"
    assert record.summary["wer"]["mean"] == pytest.approx(HEARD_ERRORS / 9 * 100)


async def test_decoding_is_client_work_kept_out_of_the_models_time(
    fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the file made 300 ms slower shows nowhere in the model's time: the clock starts after it."""
    import llamaburn_audio.modality as audio_modality

    def slow_read(path: str) -> Recording:
        time.sleep(0.3)
        return read_recording(path)

    monkeypatch.setattr(audio_modality, "read_recording", slow_read)
    path = recording(tmp_path, "flac")
    backend = OpenAIBackend(fake.url)
    try:
        run = await measure(registry, backend, store, SPEECH_MODEL, audio_path=upload(path), reference_text=SENTENCE)
    finally:
        await backend.aclose()
    for metrics, answer in zip(run.iterations, fake.served[1:], strict=True):
        assert metrics["decode_ms"] > 0
        assert_within_transport(metrics["processing_ms"], answer.processing_s * 1000)
        assert_within_transport(metrics["first_word_ms"], (answer.first_word_at - answer.received_at) * 1000)


async def test_whisper_cpp_run(fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path) -> None:
    path = recording(tmp_path, "wav")
    backend = WhisperCppBackend(fake.url)
    try:
        run = await measure(
            registry, backend, store, MODEL_ID, audio_path=upload(path), reference_text=SENTENCE, language="en"
        )
    finally:
        await backend.aclose()
    assert run.status == "completed", run.error
    answer = fake.served[-1]
    assert answer.path == "/inference" and answer.fields["response_format"] == "verbose_json"
    assert answer.fields["language"] == "en" and "model" not in answer.fields
    metrics = run.iterations[-1]
    assert metrics["transcription_mode"] == "single" and metrics["segments"] == 1
    assert metrics["wer"] == pytest.approx(HEARD_ERRORS / 9 * 100) and metrics["first_word_ms"] is None
    assert_within_transport(metrics["processing_ms"], answer.processing_s * 1000)
    assert metrics["rtf"] == pytest.approx(metrics["processing_ms"] / 1000 / metrics["audio_duration_s"])


async def test_audio_with_no_backend_named_is_refused_for_want_of_transcription(
    registry: Registry, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No zero-setup default (docs/architecture.md): the default chat backend is refused, naming why."""
    request = RunRequest(modality="audio", inputs={"audio_path": upload(recording(tmp_path, "wav"))})
    with FakeServer() as chat_server:
        monkeypatch.setenv("OLLAMA_HOST", chat_server.url)
        monkeypatch.setattr("llamaburn.backends.embedded.embedded_installed", lambda: False)
        pool = BackendPool(registry)
        try:
            with pytest.raises(CapabilityError, match="has no transcription capability, which Audio benchmarks need"):
                await prepare_run(request, registry, pool)
        finally:
            await pool.aclose()
        assert {r.path for r in chat_server.requests} <= {"/api/version"}  # the probe only, no transcription
    assert_nothing_stored(store)


# Bad input: one line naming the problem, and nothing stored


def assert_nothing_stored(store: Store) -> None:
    assert store.list_runs() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEjunk-that-is-not-a-fmt-chunk", "is not a readable recording"),
        (b"hello, I am a text file\n", "is not a WAV, MP3, FLAC, Ogg or M4A recording"),
    ],
    ids=["corrupt", "not-audio"],
)
async def test_a_file_that_is_not_audio_is_refused(
    content: bytes, message: str, fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    backend = OpenAIBackend(fake.url)
    try:
        with pytest.raises(InputsError, match=message) as refused:
            await measure(registry, backend, store, SPEECH_MODEL, audio_path=upload(path))
    finally:
        await backend.aclose()
    assert "\n" not in str(refused.value) and str(refused.value).startswith("audio_path: ")
    assert fake.served == [] and assert_nothing_stored(store) is None


async def test_zero_length_audio_is_refused(registry: Registry, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
    undefined = r"holds no audio \(0 samples decoded\), so its real-time factor is undefined"
    with pytest.raises(InputsError, match=undefined):
        await measure(registry, OpenAIBackend("http://127.0.0.1:9"), store, SPEECH_MODEL, audio_path=upload(path))
    assert_nothing_stored(store)


async def test_an_empty_reference_is_refused(registry: Registry, store: Store, tmp_path: Path) -> None:
    path = recording(tmp_path, "wav")
    with pytest.raises(InputsError, match=r"reference_text: .*the reference transcript is empty"):
        await measure(
            registry, OpenAIBackend("http://127.0.0.1:9"), store, SPEECH_MODEL, audio_path=upload(path),
            reference_text=" ?! ",
        )
    assert_nothing_stored(store)


async def test_a_backend_without_transcription_is_refused(registry: Registry, store: Store, tmp_path: Path) -> None:
    path = recording(tmp_path, "wav")
    with FakeServer() as chat_server:
        backend = OllamaBackend(chat_server.url)
        try:
            with pytest.raises(CapabilityError, match="has no transcription capability, which Audio benchmarks need"):
                await measure(registry, backend, store, "llama3.2:1b", audio_path=upload(path))
        finally:
            await backend.aclose()
        assert chat_server.requests == []  # refused before any request
    assert_nothing_stored(store)


async def test_a_chat_model_picked_for_transcription_is_refused(
    fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path
) -> None:
    path = recording(tmp_path, "wav")
    backend = OpenAIBackend(fake.url)
    try:
        with pytest.raises(CapabilityError, match=f"model '{CHAT_MODEL}' .* cannot transcribe .*does not support") as e:
            await measure(registry, backend, store, CHAT_MODEL, audio_path=upload(path))
    finally:
        await backend.aclose()
    assert "\n" not in str(e.value) and fake.served == []
    assert_nothing_stored(store)


async def test_a_server_that_drops_mid_stream_fails_the_run_and_keeps_no_iteration(
    fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path
) -> None:
    path = recording(tmp_path, "wav")
    fake.behaviour.drop_after, fake.behaviour.drop_request = 3, 1  # the preflight (0) answers; iteration 1 drops
    backend = OpenAIBackend(fake.url)
    try:
        run = await measure(registry, backend, store, SPEECH_MODEL, audio_path=upload(path))
    finally:
        await backend.aclose()
    assert run.status == "failed" and run.error is not None
    assert "closed the connection mid-stream" in run.error and fake.url in run.error and "\n" not in run.error
    assert run.iterations == [] and store.iterations(run.id) == []  # no partial transcript is a measurement
    assert store.get_run(run.id).status == "failed"


async def test_a_server_that_drops_every_stream_is_refused_before_the_run(
    fake: FakeTranscriptionServer, registry: Registry, store: Store, tmp_path: Path
) -> None:
    path = recording(tmp_path, "wav")
    fake.behaviour.drop_after = 0
    backend = OpenAIBackend(fake.url)
    try:
        with pytest.raises(BackendError, match=f"at {fake.url} closed the connection mid-stream"):
            await measure(registry, backend, store, SPEECH_MODEL, audio_path=upload(path))
    finally:
        await backend.aclose()
    assert_nothing_stored(store)


# The CLI


def test_cli_bench_audio_json(
    capsys: pytest.CaptureFixture[str], fake: FakeTranscriptionServer, tmp_path: Path
) -> None:
    path = recording(tmp_path, "mp3")
    code, data, err = cli(
        capsys, "bench", "--modality", "audio", "--audio", upload(path), "--reference", SENTENCE,
        "--backend", "openai", "--url", fake.url, "--model", SPEECH_MODEL, "--iterations", "2", "--warmup", "0",
        "--json", "--quiet",
    )
    assert code == 0, err
    assert data is not None
    assert [m["transcription_mode"] for m in data["iterations"]] == ["stream", "stream"]
    assert data["summary"]["wer"]["mean"] == pytest.approx(HEARD_ERRORS / 9 * 100)
    assert fake.behaviour.rtf <= data["summary"]["rtf"]["mean"] < fake.behaviour.rtf + 0.1
    assert data["iterations"][0]["sample_rate_hz"] == 22050 and data["iterations"][0]["channels"] == 1


def test_cli_bench_audio_takes_a_local_file_with_no_upload_step(
    capsys: pytest.CaptureFixture[str], fake: FakeTranscriptionServer, tmp_path: Path
) -> None:
    path = recording(tmp_path, "flac")  # outside the uploads directory: the CLI reads it where it is
    code, data, err = cli(
        capsys, "bench", "--modality", "audio", "--audio", str(path), "--reference", SENTENCE,
        "--backend", "openai", "--url", fake.url, "--model", SPEECH_MODEL, "--iterations", "1", "--warmup", "0",
        "--json", "--quiet",
    )
    assert code == 0, err
    assert data is not None and data["config"]["inputs"]["audio_path"] == str(path.resolve())
    assert data["summary"]["wer"]["mean"] == pytest.approx(HEARD_ERRORS / 9 * 100)


def test_cli_refuses_a_corrupt_file_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.flac"
    path.write_bytes(b"fLaC" + b"\x00" * 64)
    code, data, err = cli(
        capsys, "bench", "--modality", "audio", "--audio", upload(path), "--backend", "openai", "--url", "127.0.0.1:9"
    )
    assert code != 0 and data is None
    assert_one_error_line(err, "audio_path", "broken.flac is not a readable recording")
    assert Store().list_runs() == []


def test_plugins_lists_audio_as_available(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = cli(capsys, "plugins", "--json")
    assert code == 0, err
    assert data is not None
    rows = data if isinstance(data, list) else data["plugins"]
    audio = next(row for row in rows if row["kind"] == "modality" and row["name"] == "audio")
    assert audio["available"] is True
    names = {row["name"] for row in rows if row["kind"] == "backend"}
    assert {"whisper-cpp", "openai"} <= names
