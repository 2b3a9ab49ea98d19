"""The vision path that Image, Video and 3D share: pictures sent as each protocol wants them, in order, the
pictures' prefill cost measured against a text-only control on the fake's exact clock, and a model that
cannot see refused before any request, with nothing stored."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from PIL import Image

from llamaburn.backends.ollama import OllamaBackend
from llamaburn.backends.openai import OpenAIBackend
from llamaburn.engine.modality import Inputs, Modality, Target
from llamaburn.engine.registry import load_registry
from llamaburn.engine.vision import Picture, VisionModality
from llamaburn.errors import CapabilityError, InputsError
from llamaburn.hookspecs import hookimpl
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, Script
from llamaburn.testing.vision import VisionServer

PER_PICTURE_S = 0.15
TTFT_S = 0.04
CLOCK_MS = 25  # the loopback round trip, the client's JSON of the pictures, the fake's decoding, a busy machine


def painted(width: int, height: int, colour: tuple[int, int, int]) -> Image.Image:
    """A picture whose every pixel matters: a colour gradient, so a swapped or resized picture is caught."""
    image = Image.new("RGB", (width, height), colour)
    for x in range(width):
        image.putpixel((x, x * height // width), (x % 256, 255 - colour[1], colour[2]))
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


SOURCES = [painted(64, 48, (200, 30, 30)), painted(40, 30, (20, 180, 60))]


class _Pictures(VisionModality):
    """Two PNG pictures made in memory: what a modality's ``pictures()`` gives the shared ``measure()``."""

    name = "pictures"
    label = "Pictures"
    available = True
    metrics: ClassVar = ()

    def pictures(self, inputs: Inputs) -> tuple[list[Picture], dict[str, Any]]:
        encoded = [Picture(png(image), "image/png", image.width, image.height, f"p{n}") for n, image in
                   enumerate(SOURCES)]
        return encoded, {"made": len(encoded)}


class _Plugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(_Pictures())


@pytest.fixture
def seeing() -> Iterator[VisionServer]:
    script = Script(tokens=6, ttft_s=TTFT_S, tokens_per_s=200, llama_cpp=True)
    with VisionServer(script, per_picture_s=PER_PICTURE_S, expected=SOURCES) as server:
        yield server


async def measure(backend: OllamaBackend | OpenAIBackend) -> tuple[dict[str, Any], str]:
    modality = _Pictures()
    inputs = modality.parse_inputs({"prompt": "What is in these pictures?"})
    await backend.models()  # the connection is open, as a run's warmup leaves it: the control pays no connect
    answer: list[str] = []
    metrics = await modality.measure(inputs, modality.prompt(inputs, 0), Target(backend, DEFAULT_MODEL),
                                     answer.append)
    return metrics, "".join(answer)


async def test_ollama_gets_the_pictures_in_order_and_their_prefill_cost_is_measured(seeing: VisionServer) -> None:
    async with OllamaBackend(seeing.url) as backend:
        metrics, answer = await measure(backend)
    control, sent = [r.body for r in seeing.requests if r.path == "/api/chat"]
    assert "images" not in control["messages"][-1] and control["options"]["num_predict"] == 1
    assert sent["messages"][-1]["content"] == "What is in these pictures?"
    assert len(sent["messages"][-1]["images"]) == 2
    # cold for both: a different nonce first, in the system message, before the pictures Ollama puts first
    assert control["messages"][0]["role"] == sent["messages"][0]["role"] == "system"
    assert control["messages"][0]["content"] != sent["messages"][0]["content"]
    assert [image.size for image in seeing.seen[1]] == [(64, 48), (40, 30)]  # and the same pixels: expected=
    assert answer == "t0 t1 t2 t3 t4 t5 "
    assert metrics["image_processing_ms"] == pytest.approx(2 * PER_PICTURE_S * 1000, abs=CLOCK_MS)
    assert metrics["control_ttft_ms"] == pytest.approx(TTFT_S * 1000, abs=CLOCK_MS)
    assert metrics["ttft_ms"] == pytest.approx((TTFT_S + 2 * PER_PICTURE_S) * 1000, abs=CLOCK_MS)
    assert metrics["server_image_processing_ms"] == pytest.approx(2 * PER_PICTURE_S * 1000, abs=1e-3)
    assert metrics["server_prompt_ms"] == pytest.approx((TTFT_S + 2 * PER_PICTURE_S) * 1000, abs=1e-3)
    assert [(p["width"], p["height"], p["media_type"], p["label"]) for p in metrics["pictures"]] == [
        (64, 48, "image/png", "p0"), (40, 30, "image/png", "p1")
    ]
    assert [p["bytes"] for p in metrics["pictures"]] == [len(png(image)) for image in SOURCES]
    assert metrics["picture_bytes"] == sum(len(png(image)) for image in SOURCES)
    assert all(p["thumbnail"].startswith("data:image/jpeg;base64,") for p in metrics["pictures"])
    assert metrics["preprocessing_ms"] > 0 and metrics["made"] == 2


async def test_openai_gets_data_urls_in_order_with_the_cache_off_for_both(seeing: VisionServer) -> None:
    async with OpenAIBackend(seeing.url) as backend:
        metrics, _ = await measure(backend)
    control, sent = [r.body for r in seeing.requests if r.path == "/v1/chat/completions"]
    assert control["cache_prompt"] is False and sent["cache_prompt"] is False
    assert control["messages"] == [{"role": "user", "content": "What is in these pictures?"}]
    parts = sent["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is in these pictures?"}
    assert [part["image_url"]["url"][:22] for part in parts[1:]] == ["data:image/png;base64,"] * 2
    assert metrics["image_processing_ms"] == pytest.approx(2 * PER_PICTURE_S * 1000, abs=CLOCK_MS)
    assert metrics["server_image_processing_ms"] == pytest.approx(2 * PER_PICTURE_S * 1000, abs=1e-3)
    assert metrics["cache_method"] == "cache_prompt"


async def test_a_picture_that_is_not_the_one_meant_fails_the_request() -> None:
    with VisionServer(Script(tokens=3), expected=[SOURCES[1], SOURCES[0]]) as server:
        async with OllamaBackend(server.url) as backend:
            with pytest.raises(Exception, match="picture 1 is 64x48, expected 40x30"):
                await measure(backend)


@pytest.mark.parametrize("backend", ["ollama", "openai"])
async def test_a_model_that_cannot_see_is_refused_before_any_chat_and_nothing_is_stored(backend: str) -> None:
    with VisionServer(Script(llama_cpp=True), models=["llama3.1:8b"], vision=False) as server:
        service = RunService(load_registry(extra=[("pictures", _Plugin())]), Store())
        try:
            request = RunRequest(modality="pictures", backend=backend, url=server.url, model="llama3.1:8b")
            with pytest.raises(CapabilityError) as refused:
                await service.start(request)
            assert str(refused.value) == (
                "llama3.1:8b has no vision capability: pick a vision model such as gemma3, llava or qwen2.5vl"
            )
            assert [r for r in server.requests if "chat" in r.path] == []
            assert service.runs == {} and service.store.count_runs() == 0
        finally:
            await service.aclose()


async def test_a_server_that_does_not_say_what_its_model_sees_is_given_the_benefit_of_the_doubt() -> None:
    # vLLM and LM Studio have no /props: the request itself goes ahead (and a text-only model would refuse it)
    with VisionServer(Script(tokens=3), expected=SOURCES) as server:
        service = RunService(load_registry(extra=[("pictures", _Plugin())]), Store())
        try:
            run = await service.start(RunRequest(
                modality="pictures", backend="openai", url=server.url, model=DEFAULT_MODEL,
                inputs={"iterations": 1, "warmup": 0},
            ))
            await service.runs[run.id].done.wait()
            assert service.runs[run.id].status == "completed"
            assert len([r for r in server.requests if "chat" in r.path]) == 2
        finally:
            await service.aclose()


async def test_the_documented_vision_modality_runs_against_the_fake_vision_server() -> None:
    """docs/plugins.md's ``llamaburn_flag.py``, executed as written: its one picture reaches the server and
    its prefill cost is measured by the shared ``measure()``."""
    from types import ModuleType

    from tests.test_plugin_docs import FILES

    module = ModuleType("llamaburn_flag")
    exec(compile(FILES["llamaburn_flag.py"].code, "docs/plugins.md:llamaburn_flag.py", "exec"), module.__dict__)
    flag = module.FlagModality()
    inputs = flag.parse_inputs({"stripes": 2})
    with VisionServer(Script(tokens=3, ttft_s=TTFT_S), per_picture_s=PER_PICTURE_S, expected=[(120, 120)]) as server:
        async with OllamaBackend(server.url) as backend:
            await backend.models()
            metrics = await flag.measure(inputs, flag.prompt(inputs, 0), Target(backend, DEFAULT_MODEL), print)
    assert metrics["image_processing_ms"] == pytest.approx(PER_PICTURE_S * 1000, abs=CLOCK_MS)
    assert metrics["stripes"] == 2 and metrics["pictures"][0]["label"] == "flag"


@pytest.mark.parametrize("name", ["image", "video", "graphics3d"])
def test_each_vision_modality_refuses_a_blank_prompt_as_text_does(name: str) -> None:
    """Each vision form redeclares its prompt (its own default and help) with the one blank-prompt rule."""
    with pytest.raises(InputsError) as refused:
        load_registry().modality(name).parse_inputs({"prompt": "   "})
    assert ("prompt",) in dict(refused.value.problems)
    assert "a prompt is empty" in dict(refused.value.problems)[("prompt",)]
