"""Image: each format becomes the picture a vision server can read, and a run measures it end to end through
the CLI (a local file, ``--json``) against the fake vision server, which checks it got the very pixels; every
bad input is one line, with nothing stored."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from llamaburn.cli import main
from llamaburn.engine.registry import load_registry
from llamaburn.errors import InputsError
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, Script
from llamaburn.testing.vision import VisionServer
from tests.vision_media import encoded, gif, painted, soundtrack

PER_PICTURE_S = 0.2
CLOCK_MS = 25  # loopback, the client's JSON of the pictures, the fake's decoding, a busy machine
SOURCE = painted(96, 64)
IMAGE = load_registry().modality("image")


def same_pixels(first: Image.Image, second: Image.Image) -> bool:
    difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return first.size == second.size and difference.getbbox() is None


def picture_of(path: Path, **inputs: object) -> tuple[Image.Image, str, bytes, dict[str, object]]:
    parsed = IMAGE.parse_inputs({"image_path": str(path), **inputs}, local_files=True)
    pictures, details = IMAGE.pictures(parsed)  # type: ignore[attr-defined]
    [picture] = pictures
    return Image.open(io.BytesIO(picture.data)), picture.media_type, picture.data, details


@pytest.mark.parametrize(("suffix", "image_format", "sent_as", "as_is"), [
    (".png", "PNG", "image/png", True),
    (".jpg", "JPEG", "image/jpeg", True),
    (".webp", "WEBP", "image/png", False),  # llama.cpp's stb_image reads no WebP
])
def test_each_format_is_sent_as_a_server_reads_it(
    tmp_path: Path, suffix: str, image_format: str, sent_as: str, as_is: bool
) -> None:
    options = {"lossless": True} if image_format == "WEBP" else {}
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(encoded(SOURCE, image_format, **options))
    image, media_type, data, details = picture_of(path)
    assert media_type == sent_as and image.size == (96, 64)
    assert (data == path.read_bytes()) is as_is
    assert details["source_format"] == image_format and details["reencoded"] is not as_is
    if image_format != "JPEG":  # lossy: its pixels are the decoder's
        assert same_pixels(image, SOURCE)


def test_a_gif_sends_its_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    first, second = painted(40, 30, shade=0).quantize(), painted(40, 30, shade=255).quantize()
    path.write_bytes(gif([first, second]))
    image, media_type, _, _ = picture_of(path)
    assert media_type == "image/png" and same_pixels(image, first)


def test_max_side_shrinks_the_picture_and_keeps_its_shape(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encoded(painted(400, 200), "PNG"))
    image, media_type, _, details = picture_of(path, max_side=100)
    assert image.size == (100, 50) and media_type == "image/png"
    assert details["resized"] is True and (details["source_width"], details["source_height"]) == (400, 200)
    image, _, data, details = picture_of(path, max_side=400)  # already within it: sent as it is
    assert image.size == (400, 200) and data == path.read_bytes() and details["resized"] is False


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=["A", " gradient", "."], ttft_s=0.03, tokens_per_s=100)
    with VisionServer(script, per_picture_s=PER_PICTURE_S, expected=[SOURCE]) as server:
        yield server


def bench(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["bench", "--modality", "image", "--backend", "ollama", "--url", url, "--model", DEFAULT_MODEL,
                 "--iterations", "2", "--warmup", "0", "--json", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_runs_a_local_picture_and_measures_its_processing_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seeing: VisionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "photo.png").write_bytes(encoded(SOURCE, "PNG"))
    monkeypatch.chdir(tmp_path)
    code, out, err = bench(capsys, seeing.url, "--input", "image_path=photo.png", "--prompt", "What is this?")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["modality"] == "image"
    assert result["config"]["inputs"]["image_path"] == str(tmp_path / "photo.png")
    for iteration in result["iterations"]:
        assert iteration["image_processing_ms"] == pytest.approx(PER_PICTURE_S * 1000, abs=CLOCK_MS)
        assert iteration["server_image_processing_ms"] == pytest.approx(PER_PICTURE_S * 1000, abs=1e-3)
        assert iteration["preprocessing_ms"] > 0
        [sent] = iteration["pictures"]
        assert (sent["width"], sent["height"], sent["media_type"]) == (96, 64, "image/png")
        assert sent["bytes"] == len(encoded(SOURCE, "PNG"))
    assert result["summary"]["image_processing_ms"]["mean"] == pytest.approx(PER_PICTURE_S * 1000, abs=CLOCK_MS)
    assert len(seeing.seen) == 4 and all(same_pixels(pictures[0], SOURCE) for pictures in seeing.seen[1::2])
    assert Store().get_run(result["run_id"]).status == "completed"


def one_error(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> str:
    code, out, err = bench(capsys, url, *args)
    lines = err.strip().splitlines()
    assert code != 0 and out == "" and len(lines) == 1 and lines[0].startswith("llamaburn: error: "), err
    assert Store().count_runs() == 0
    return lines[0].removeprefix("llamaburn: error: ")


def test_bad_pictures_are_one_line_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seeing: VisionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "corrupt.png").write_bytes(encoded(SOURCE, "PNG")[:60])
    (tmp_path / "sound.png").write_bytes(soundtrack(tmp_path / "sound.mp4").read_bytes())
    (tmp_path / "huge.png").write_bytes(encoded(SOURCE, "PNG"))
    assert one_error(capsys, seeing.url, "--image", str(tmp_path / "corrupt.png")).startswith(
        "image_path: Value error, the image cannot be decoded"
    )
    wrong = one_error(capsys, seeing.url, "--image", str(tmp_path / "sound.png"))
    assert "is not a PNG, JPEG, WebP or GIF image" in wrong
    assert "no file 'missing.png'" in one_error(capsys, seeing.url, "--image", "missing.png")
    monkeypatch.setattr("llamaburn.storage.uploads.MAX_UPLOAD_BYTES", 100)
    assert "larger than the 100-byte limit" in one_error(capsys, seeing.url, "--image", str(tmp_path / "huge.png"))
    assert [r for r in seeing.requests if r.path == "/api/chat"] == []


def test_a_model_that_cannot_see_is_refused_by_name_before_any_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(encoded(SOURCE, "PNG"))
    with VisionServer(Script(), models=["llama3.1:8b"], vision=False) as blind:
        message = one_error(capsys, blind.url, "--model", "llama3.1:8b", "--image", str(tmp_path / "photo.png"))
        assert message == "llama3.1:8b has no vision capability: pick a vision model such as gemma3, llava or qwen2.5vl"
        assert [r for r in blind.requests if r.path == "/api/chat"] == []


def test_outside_the_cli_a_path_is_not_a_file_field_value(tmp_path: Path) -> None:
    """The API and the UI take upload ids only: a local path, even a real picture, is refused."""
    path = tmp_path / "photo.png"
    path.write_bytes(encoded(SOURCE, "PNG"))
    for as_json in (True, False):
        with pytest.raises(InputsError, match="outside the uploads directory"):
            IMAGE.parse_inputs({"image_path": str(path)}, as_json=as_json)


def test_a_picture_past_the_decompression_bomb_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(encoded(painted(400, 300), "PNG"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses twice its limit: 2,000 pixels here
    with pytest.raises(InputsError, match="image_path: Value error, the image is too large to decode"):
        IMAGE.parse_inputs({"image_path": str(path)}, local_files=True)
