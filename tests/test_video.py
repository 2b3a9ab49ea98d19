"""Video: frames sampled with PyAV from real clips the tests make (MP4, WebM, MKV, MOV), sent in one message,
and the frame rate checked against the fake vision server's exact clock; a clip with no video stream, one
that cannot be decoded and one with no frame are each one line, with nothing stored."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, Script
from llamaburn.testing.vision import VisionServer
from llamaburn_video import sample_times
from tests.vision_media import CLIP_RATE, CLIP_SIZE, clip, frameless, soundtrack

PER_FRAME_S = 0.05
CLOCK_MS = 25  # loopback, the client's JSON of the pictures, the fake's decoding, a busy machine
VIDEO = load_registry().modality("video")


def test_sample_times_follow_fps_until_max_frames_then_spread_evenly() -> None:
    assert sample_times(3.0, 1.0, 8) == [0.0, 1.0, 2.0]
    assert sample_times(3.0, 2.0, 8) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert sample_times(20.0, 1.0, 8) == [0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5]
    assert sample_times(0.2, 1.0, 8) == [0.0]  # a clip shorter than one interval still gives its first frame


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".mkv", ".mov"])
def test_each_container_gives_its_frames_at_their_times(tmp_path: Path, suffix: str) -> None:
    path = clip(tmp_path / f"clip{suffix}", seconds=3.0)
    inputs = VIDEO.parse_inputs({"video_path": str(path), "fps": 2}, local_files=True)
    pictures, details = VIDEO.pictures(inputs)  # type: ignore[attr-defined]
    assert details["frame_times_s"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert details["duration_s"] == pytest.approx(3.0, abs=0.15)
    assert details["native_fps"] == pytest.approx(CLIP_RATE)
    assert details["frames_sent"] == len(pictures) == 6 and details["frame_extraction_ms"] > 0
    assert [(p.width, p.height, p.media_type) for p in pictures] == [(*CLIP_SIZE, "image/jpeg")] * 6
    assert [p.label for p in pictures] == ["t=0.0 s", "t=0.5 s", "t=1.0 s", "t=1.5 s", "t=2.0 s", "t=2.5 s"]
    reds = [Image.open(io.BytesIO(p.data)).convert("RGB").getpixel((32, 24))[0] for p in pictures]
    assert reds == pytest.approx([0, 40, 80, 120, 160, 200], abs=12)  # frame i is shaded i * 8: the right frames


def test_max_frames_and_max_side(tmp_path: Path) -> None:
    path = clip(tmp_path / "clip.mp4", seconds=4.0)
    inputs = VIDEO.parse_inputs({"video_path": str(path), "fps": 10, "max_frames": 4, "max_side": 32},
                                local_files=True)
    pictures, details = VIDEO.pictures(inputs)  # type: ignore[attr-defined]
    assert details["frame_times_s"] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert {(p.width, p.height) for p in pictures} == {(32, 24)}


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=["A", " red", " fade", "."], ttft_s=0.03, tokens_per_s=100, llama_cpp=True)
    with VisionServer(script, per_picture_s=PER_FRAME_S, expected=[CLIP_SIZE] * 3) as server:
        yield server


def bench(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["bench", "--modality", "video", "--backend", "openai", "--url", url, "--model", DEFAULT_MODEL,
                 "--iterations", "2", "--warmup", "0", "--json", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_cli_measures_the_frame_rate_on_the_servers_clock(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seeing: VisionServer, suffix: str
) -> None:
    path = clip(tmp_path / f"clip{suffix}", seconds=3.0)
    code, out, err = bench(capsys, seeing.url, "--video", str(path))
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["modality"] == "video"
    prefill_ms = 3 * PER_FRAME_S * 1000
    for iteration in result["iterations"]:
        assert iteration["frames_sent"] == 3 and iteration["frame_times_s"] == pytest.approx([0.0, 1.0, 2.0])
        assert iteration["image_processing_ms"] == pytest.approx(prefill_ms, abs=CLOCK_MS)
        # frame rate = frames sent / (TTFT with frames - TTFT of the control)
        assert iteration["frame_rate"] == pytest.approx(3 / (iteration["image_processing_ms"] / 1000))
        assert iteration["frame_rate"] == pytest.approx(3 / (prefill_ms / 1000), rel=0.1)
        assert iteration["server_image_processing_ms"] == pytest.approx(prefill_ms, abs=1e-3)
        assert iteration["native_fps"] == pytest.approx(CLIP_RATE)
    sent = [r.body for r in seeing.requests if r.path == "/v1/chat/completions"][1]
    assert [part["type"] for part in sent["messages"][0]["content"]] == ["text", "image_url", "image_url", "image_url"]
    assert Store().get_run(result["run_id"]).status == "completed"


def test_bad_clips_are_one_line_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seeing: VisionServer
) -> None:
    good = clip(tmp_path / "good.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(good.read_bytes()[:64] + bytes(2000))
    cases = {
        soundtrack(tmp_path / "sound.mp4"): "the file has no video stream",
        frameless(good, tmp_path / "frameless.mp4"): "the video has no frames to sample",
        corrupt: "the video cannot be decoded",
    }
    for path, message in cases.items():
        code, out, err = bench(capsys, seeing.url, "--video", str(path))
        lines = err.strip().splitlines()
        assert code != 0 and out == "" and len(lines) == 1, err
        assert lines[0].startswith(f"llamaburn: error: video_path: Value error, {message}"), err
    code, _, err = bench(capsys, seeing.url, "--video", str(tmp_path / "missing.webm"))
    assert code != 0 and "no file" in err
    assert Store().count_runs() == 0 and [r for r in seeing.requests if "chat" in r.path] == []
